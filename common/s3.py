"""The botocore client settings every S3 storage of the product uses (backups, static files)."""

from botocore.config import Config


def client_config(addressing_style: str | None = None) -> Config:
    """Checksums only when required (boto3 1.36+ sends default checksums that some S3-compatible stores reject:
    django-storages #1482), short timeouts and bounded retries, so that an unreachable store fails fast."""
    return Config(
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        connect_timeout=5,
        read_timeout=60,
        retries={"max_attempts": 3, "mode": "standard"},
        s3={"addressing_style": addressing_style or "auto"},
    )
