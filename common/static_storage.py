"""Static files in an S3 bucket (STATIC_STORAGE=s3, docs/operations.md#caching-and-cdn)."""

from botocore.config import Config
from storages.backends.s3 import S3ManifestStaticStorage


class StaticS3Storage(S3ManifestStaticStorage):
    """collectstatic's hashed names and manifest in S3 (django-storages), linked as STATIC_CDN_URL + name.

    Checksums only when required: boto3 1.36+ sends default checksums that some S3-compatible stores reject
    (django-storages #1482), as ops.s3 does for backups.
    """

    def __init__(self, **settings):
        settings.setdefault(
            "client_config",
            Config(
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
                connect_timeout=5,
                read_timeout=60,
                retries={"max_attempts": 3, "mode": "standard"},
                s3={"addressing_style": settings.pop("addressing_style", None) or "auto"},
            ),
        )
        super().__init__(**settings)
