"""The S3 backend for backups (django-storages), tuned for large streamed dumps."""

from boto3.s3.transfer import TransferConfig
from storages.backends.s3 import S3Storage

from common.s3 import client_config

# Multipart parts of 16 MiB, at most 4 in flight and 4 buffered: the upload of a dump read from a pipe keeps
# about 16 MiB x 8 in memory whatever the database size. S3 allows 10,000 parts, so one dump can reach 160 GiB.
MULTIPART_CHUNK = 16 * 1024 * 1024


class BackupS3Storage(S3Storage):
    """S3Storage for backups: checksums only when required, bounded multipart buffers, fail fast when unreachable."""

    def __init__(self, **settings):
        settings.setdefault(
            "client_config",
            client_config(settings.pop("addressing_style", None)),
        )
        if "transfer_config" not in settings:
            transfer = TransferConfig(
                multipart_threshold=MULTIPART_CHUNK,
                multipart_chunksize=MULTIPART_CHUNK,
                max_concurrency=4,
                max_io_queue=4,
            )
            # s3transfer reads these, boto3's TransferConfig does not take them as arguments (default 10 each).
            transfer.max_in_memory_upload_chunks = 4
            transfer.max_in_memory_download_chunks = 4
            settings["transfer_config"] = transfer
        super().__init__(**settings)
