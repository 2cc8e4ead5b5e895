"""Backup storage: the STORAGES["backups"] alias (local folder or S3), the optional STORAGES["backups_replica"]
alias (another bucket, region or endpoint), and streaming helpers around them.

boto3 is only imported when the S3 backend is configured (ops.s3), which keeps command start-up short.
"""

import contextlib
import hashlib
import os
import shutil
import tempfile
from typing import Any, BinaryIO, cast

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages

from ops.errors import BackupError

CHUNK_SIZE = 1024 * 1024
PRIMARY, REPLICA = "primary", "replica"
REPLICA_ALIAS = "backups_replica"


def backup_storage() -> Storage:
    """The storage that holds dumps and manifests (Django's STORAGES["backups"])."""
    return storages["backups"]


def replica_configured() -> bool:
    """Whether a replica storage is configured (BACKUP_REPLICA_STORAGE, i.e. STORAGES["backups_replica"])."""
    return REPLICA_ALIAS in settings.STORAGES


def replica_storage() -> Storage:
    """The second copy of every backup (STORAGES["backups_replica"]); BackupError when none is configured."""
    if not replica_configured():
        raise BackupError("no backup replica is configured (set BACKUP_REPLICA_STORAGE, docs/disaster-recovery.md)")
    return storages[REPLICA_ALIAS]


def storage_for(source: str) -> Storage:
    """The storage of a source: "primary" (backup_storage) or "replica" (replica_storage)."""
    if source == PRIMARY:
        return backup_storage()
    if source == REPLICA:
        return replica_storage()
    raise BackupError(f"unknown backup source {source!r}: use 'primary' or 'replica'")


def storage_label(source: str) -> str:
    """How error messages name a source's storage."""
    return "replica storage" if source == REPLICA else "backup storage"


class HashingReader:
    """A read-only, non-seekable file that hashes (sha256) and counts the bytes that pass through it."""

    def __init__(self, raw: BinaryIO):
        self._raw = raw
        self.sha256 = hashlib.sha256()
        self.size = 0
        self.closed = False

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size if size and size > 0 else CHUNK_SIZE)
        if data:
            self.sha256.update(data)
            self.size += len(data)
        return data

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        pass


def upload_stream(storage: Storage, key: str, stream: BinaryIO) -> tuple[str, int, str]:
    """Stream a file object into storage under key; returns (stored key, size, sha256).

    Storage.save() reads it in chunks: FileSystemStorage writes 64 KiB at a time, S3Storage hands it to
    upload_fileobj, which does a multipart upload for a non-seekable stream (and aborts it on error).
    """
    reader = HashingReader(stream)
    stored = storage.save(key, File(reader, name=key))  # type: ignore[arg-type]  # a file-like reader
    return stored, reader.size, reader.sha256.hexdigest()


def upload_bytes(storage: Storage, key: str, data: bytes) -> str:
    return storage.save(key, ContentFile(data, name=key))


def read_bytes(storage: Storage, key: str) -> bytes:
    with storage.open(key, "rb") as fh:
        return fh.read()


def local_path(storage: Storage, key: str) -> str | None:
    """The file's path when storage is a local folder (restores then read it in place), else None."""
    try:
        return storage.path(key)
    except NotImplementedError:
        return None


def open_stream(storage: Storage, key: str) -> BinaryIO:
    """A file object reading the object in chunks: S3's response body itself (S3File would spool the whole object
    first), a plain file for a local folder. The caller closes it."""
    if hasattr(storage, "bucket"):  # S3Storage, see download_to_temp
        s3 = cast(Any, storage)
        return s3.bucket.Object(s3._normalize_name(key)).get()["Body"]
    return cast(BinaryIO, storage.open(key, "rb"))


def object_sha256(storage: Storage, key: str) -> tuple[str, int]:
    """(sha256, size) of an object as storage serves it, read in chunks (bounded memory)."""
    digest = hashlib.sha256()
    size = 0
    stream = open_stream(storage, key)
    try:
        while chunk := stream.read(CHUNK_SIZE):
            digest.update(chunk)
            size += len(chunk)
    finally:
        stream.close()
    return digest.hexdigest(), size


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK_SIZE):
            digest.update(chunk)
    return digest.hexdigest()


def download_to_temp(storage: Storage, key: str, directory: str | None = None) -> str:
    """Copy an object into a new temporary file (bounded memory); the caller deletes it."""
    fd, path = tempfile.mkstemp(prefix="aiassistant-restore-", suffix=".dump", dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            if hasattr(storage, "bucket"):  # S3Storage: a ranged, threaded download, no buffering in memory
                s3 = cast(Any, storage)  # S3Storage; imported lazily, see the module docstring
                name = s3._normalize_name(key)  # the same name S3Storage itself uses for this key
                s3.bucket.Object(name).download_fileobj(out, Config=s3.transfer_config)
            else:
                with storage.open(key, "rb") as src:
                    shutil.copyfileobj(src, out, CHUNK_SIZE)
    except BaseException:
        os.unlink(path)
        raise
    return path


def delete_quietly(storage: Storage, key: str) -> None:
    """Remove an object if it is there; used to clean up partial uploads, so it never raises."""
    with contextlib.suppress(Exception):  # cleanup must not hide the original error
        storage.delete(key)


def list_keys(storage: Storage, prefix: str) -> list[str]:
    """Every key under prefix (recursive), sorted."""
    keys: list[str] = []
    try:
        dirs, files = storage.listdir(prefix)
    except FileNotFoundError:
        return []
    keys.extend(f"{prefix.rstrip('/')}/{name}" for name in files)
    for sub in dirs:
        keys.extend(list_keys(storage, f"{prefix.rstrip('/')}/{sub}"))
    return sorted(keys)
