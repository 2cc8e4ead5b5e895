"""Helpers shared by the apps' services."""

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import models

# The instance as it was before model_update changed it, kept on the instance until its save's pre_save: the model
# history (audit.registry) diffs against it instead of reading the row again (one round trip less per update).
PREVIOUS_STATE = "_previous_state"


def model_update(*, instance: models.Model, fields: Iterable[str], data: Mapping[str, Any]) -> list[str]:
    """Set each of `fields` that `data` holds and that differs, validate, and save only those columns.

    Returns the names of the changed fields (empty: nothing was written). `updated_at` is saved with them when
    the model has it (auto_now fields are set by save() only when listed in update_fields).
    """
    changed = []
    previous = copy.copy(instance)  # Model.__getstate__ copies _state too: the copy shares nothing mutable
    for name in fields:
        if name in data and getattr(instance, name) != data[name]:
            setattr(instance, name, data[name])
            changed.append(name)
    if not changed:
        return changed
    instance.full_clean()
    instance.__dict__[PREVIOUS_STATE] = previous
    update_fields = changed + (["updated_at"] if any(f.name == "updated_at" for f in instance._meta.fields) else [])
    instance.save(update_fields=update_fields)
    return changed
