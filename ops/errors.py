"""The error of the backup operations, and the one-line form of a tool's error output."""

from common.errors import ApplicationError


class BackupError(ApplicationError):
    """A backup, restore or verification failed; the message is one line meant for an operator."""

    status = 500
    code = "backup_failed"
    default_message = "The backup operation failed."


def one_line(text: str, limit: int = 300) -> str:
    """The last meaningful line of a tool's stderr, for one-line error messages."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return (lines[-1] if lines else "no error output")[:limit]
