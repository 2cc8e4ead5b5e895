"""A verification run, as the command, the daily task and the metrics see it: recorded as an audit event."""

from dataclasses import dataclass

from audit import recording, sealing
from audit.models import AuditEvent, Category

VERIFY_ACTION = "audit.verify"


@dataclass
class Run:
    ok: bool
    problem: str = ""
    verified: sealing.Verified | None = None


def run(*, since: int | None = None) -> Run:
    """Verify the chain and record the outcome (the metric aiassistant_audit_verify_success reads it)."""
    try:
        verified = sealing.verify(since=since)
    except sealing.ChainBroken as exc:
        recording.record(Category.AUDIT, VERIFY_ACTION, detail={"ok": False, "problem": str(exc)})
        return Run(ok=False, problem=str(exc))
    recording.record(Category.AUDIT, VERIFY_ACTION, detail={"ok": True, "rows": verified.rows, "seals": verified.seals})
    return Run(ok=True, verified=verified)


def latest() -> AuditEvent | None:
    return AuditEvent.objects.filter(action=VERIFY_ACTION).order_by("-created_at").first()
