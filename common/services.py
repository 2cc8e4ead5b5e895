"""Helpers shared by the apps' services."""

from collections.abc import Iterable, Mapping
from typing import Any

from django.db import models


def model_update(*, instance: models.Model, fields: Iterable[str], data: Mapping[str, Any]) -> list[str]:
    """Set each of `fields` that `data` holds and that differs, validate, and save only those columns.

    Returns the names of the changed fields (empty: nothing was written). `updated_at` is saved with them when
    the model has it (auto_now fields are set by save() only when listed in update_fields).
    """
    changed = []
    for name in fields:
        if name in data and getattr(instance, name) != data[name]:
            setattr(instance, name, data[name])
            changed.append(name)
    if not changed:
        return changed
    instance.full_clean()
    update_fields = changed + (["updated_at"] if any(f.name == "updated_at" for f in instance._meta.fields) else [])
    instance.save(update_fields=update_fields)
    return changed
