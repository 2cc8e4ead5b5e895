"""Audit metrics computed at scrape time from the database (right whichever process wrote or verified)."""

import logging

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)


class AuditCollector(Collector):
    """aiassistant_audit_seal_lag_seconds and the last verification's time and outcome."""

    def collect(self):
        from audit import sealing, verification

        try:
            lag = sealing.seal_lag_seconds()
            last = verification.latest()
        except Exception:  # a scrape must not fail because the database is down; the health checks say that
            logger.warning("audit metrics unavailable", exc_info=True)
            return
        yield GaugeMetricFamily(
            "aiassistant_audit_seal_lag_seconds", "Age of the oldest audit row not yet sealed (0: none).", value=lag
        )
        if last is not None:
            yield GaugeMetricFamily(
                "aiassistant_audit_verify_last_timestamp_seconds",
                "Unix time of the newest audit_verify run.",
                value=last.created_at.timestamp(),
            )
            yield GaugeMetricFamily(
                "aiassistant_audit_verify_success",
                "1 if the newest audit_verify found the chain intact, else 0.",
                value=1.0 if last.detail.get("ok") else 0.0,
            )
