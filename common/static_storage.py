"""Static files in an S3 bucket (STATIC_STORAGE=s3, docs/operations.md#caching-and-cdn)."""

from storages.backends.s3 import S3ManifestStaticStorage

from common.s3 import client_config


class StaticS3Storage(S3ManifestStaticStorage):
    """collectstatic's hashed names and manifest in S3 (django-storages), linked as STATIC_CDN_URL + name.

    The client settings are the backups' (common.s3.client_config).
    """

    def __init__(self, **settings):
        settings.setdefault(
            "client_config",
            client_config(settings.pop("addressing_style", None)),
        )
        super().__init__(**settings)
