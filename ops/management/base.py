"""The base of the backup commands: a failed operation ends the command with one line, "<verb> failed: <why>"."""

from collections.abc import Callable
from typing import ParamSpec, TypeVar

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from common.errors import ApplicationError
from ops.engines import one_line

P = ParamSpec("P")
T = TypeVar("T")


class OpsCommand(BaseCommand):
    """A management command whose errors are one line for the operator, never a traceback."""

    def run_operation(self, verb: str, operation: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Call operation; turn the project's errors (BackupError is one) and database errors into CommandError."""
        try:
            return operation(*args, **kwargs)
        except ApplicationError as exc:
            raise CommandError(f"{verb} failed: {exc}") from exc
        except DatabaseError as exc:
            raise CommandError(f"{verb} failed: database error: {one_line(str(exc))}") from exc
