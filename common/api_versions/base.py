"""What a version module declares: its number, envelope, paginator, and the changes of each resource."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

Change = Callable[[dict], dict]


@dataclass(frozen=True)
class ApiVersion:
    """One version of the API's responses, relative to the current representation (what the serializers give).

    - `envelope`: wrap bodies as `{"data": ..., "meta": ...}` (lists: also `pagination`), or send them bare.
    - `paginator`: dotted path of the pagination class its lists use.
    - `changes`: per resource (the model name: "project", "membership", "execution"...), the function that turns
      one object of the current representation into this version's, as Stripe's version changes do.
    """

    number: str
    envelope: bool
    paginator: str
    changes: Mapping[str, Change] = field(default_factory=dict)

    def change(self, resource: str | None, item: Any) -> Any:
        """One object (or a list of them) as this version shows it."""
        transform = self.changes.get(resource or "")
        if transform is None or not isinstance(item, dict | list):
            return item
        return [transform(each) for each in item] if isinstance(item, list) else transform(item)

    def meta(self, request) -> dict:
        """The `meta` member of an enveloped body."""
        return {"api_version": self.number, "request_id": getattr(request, "request_id", None)}

    def body(self, data: Any, *, request, resource: str | None, paginated: bool) -> Any:
        """The response body for `data` (a serializer's output, or a paginator's body for a list)."""
        if paginated:
            key = "data" if self.envelope else "results"
            data = {**data, key: self.change(resource, data[key])}
            return {**data, "meta": self.meta(request)} if self.envelope else data
        data = self.change(resource, data)
        return {"data": data, "meta": self.meta(request)} if self.envelope else data
