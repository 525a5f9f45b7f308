"""Google Cloud Storage (gs://) and Amazon S3 or an S3-compatible store (s3://) through their own clients, with the
per-object atomic primitives that concurrent registry writers rest on.

- create-if-absent: GCS `ifGenerationMatch=0`, S3 `If-None-Match: *`. The server refuses (412) to create a name
  that exists, so of concurrent creators exactly one succeeds.
- compare-and-swap: GCS `ifGenerationMatch=<generation read>`, S3 `If-Match: <ETag read>`. A replace succeeds
  only while nobody has replaced the object since it was read.
- An object is written whole: readers see all of it or none of it, and reads and listings are strongly
  consistent (both stores document read-after-write and list-after-write consistency).

A folder is a key prefix: it exists while an object is under it, and `makedirs` has nothing to do.

Settings are each client's own. S3: the AWS_* variables (credentials, AWS_REGION, AWS_ENDPOINT_URL_S3 or
AWS_ENDPOINT_URL for MinIO and other S3-compatible stores, which then get path-style addressing). GCS: Application
Default Credentials (Workload Identity on GKE and Vertex AI); STORAGE_EMULATOR_HOST points the client at a local
server. A client is made once per process and setting, and its SDK is imported only when a path needs it.
"""

from __future__ import annotations

import contextlib
import functools
import os
import posixpath
import tempfile
import uuid
from typing import IO, Any, Callable, Iterator

from components.contracts import url_of, url_parts
from components.registry.filesystems import StoredObject, temporary_prefix

_SPOOL_BYTES = 16 << 20
"""A file written with `open(path, "wb")` is kept in memory up to this size (then in a temporary file) until it is
uploaded on close."""


class ObjectStoreError(OSError):
    """A request to an object store failed; the message names the object and the store's error."""


def split_url(url: str) -> tuple[str, str]:
    """('bucket', 'key/of/object') of 'gs://bucket/key/of/object' (the key is '' for the bucket itself)."""
    bucket, _, key = url_parts(url)[1].partition("/")
    return bucket, key.strip("/")


class _UploadOnClose:
    """A write-only file stored as one object when it is closed without an error; a failed write stores nothing."""

    def __init__(self, upload: Callable[[IO[bytes]], None]) -> None:
        self._upload = upload
        self._buffer: IO[bytes] | None = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)

    def write(self, data: bytes) -> int:
        return self._buffer.write(data)

    def close(self) -> None:
        if self._buffer is not None:
            buffer, self._buffer = self._buffer, None
            with buffer:
                buffer.seek(0)
                self._upload(buffer)

    def __enter__(self) -> _UploadOnClose:
        return self

    def __exit__(self, error_type: type[BaseException] | None, *_: object) -> None:
        if error_type is None:
            self.close()
        elif self._buffer is not None:
            self._buffer.close()
            self._buffer = None


class ObjectStore:
    """What both stores share: URLs, folders as prefixes, and the file operations built on each store's requests.

    A subclass implements `_get`, `_put`, `_upload`, `_reader`, `_object_exists`, `_children`, `_copy` and
    `_delete` on (bucket, key) for its scheme.
    """

    scheme = ""

    def join(self, *parts: str) -> str:
        return posixpath.join(*parts)

    def url(self, bucket: str, key: str) -> str:
        return url_of(self.scheme, f"{bucket}/{key}" if key else bucket)

    def open(self, path: str, mode: str) -> IO:
        """A reader of the object ('rb'), or a writer that stores it whole when closed ('wb')."""
        bucket, key = split_url(path)
        if mode == "rb":
            return self._reader(bucket, key)
        if mode == "wb":
            return _UploadOnClose(functools.partial(self._upload, bucket, key))  # type: ignore[return-value]
        raise ValueError(f"{path}: unsupported mode {mode!r} (object stores read 'rb' and write 'wb')")

    def exists(self, path: str) -> bool:
        """Whether the object `path` exists (a folder is not an object: see `isdir`)."""
        return self._object_exists(*split_url(path))

    def isdir(self, path: str) -> bool:
        """Whether any object is under the prefix `path/`."""
        bucket, key = split_url(path)
        return any(True for _ in self._children(bucket, _prefix(key), limit=1))

    def listdir(self, path: str) -> list[str]:
        """The names directly under `path/` (objects and sub-folders); [] when there are none."""
        bucket, key = split_url(path)
        prefix = _prefix(key)
        names = {name[len(prefix) :].rstrip("/") for name in self._children(bucket, prefix)}
        return sorted(name for name in names if name)  # a folder marker (an object named `path/`) is no entry

    def makedirs(self, path: str) -> None:
        """Nothing to do: a folder exists once an object is under it."""

    def remove(self, path: str) -> None:
        self._delete(*split_url(path))

    def sync(self, handle: IO) -> None:
        """Nothing to do: an object is stored when its file is closed."""

    def write_atomic(self, path: str, data: bytes) -> None:
        """Store `data` as `path`, replacing any object there; readers see the old or the new bytes, never a part."""
        self._put(*split_url(path), data)

    def write_temporary(self, path: str, data: bytes) -> str:
        """Store `data` as a hidden object beside `path` (`temporary_prefix(name)` + a random suffix); its path."""
        folder, name = posixpath.split(path)
        temporary = posixpath.join(folder, f"{temporary_prefix(name)}{uuid.uuid4().hex}")
        self.write_atomic(temporary, data)
        return temporary

    def replace(self, temporary: str, path: str) -> None:
        """Copy `temporary` over `path` (one server-side copy, which replaces the object whole), then delete it."""
        self._copy(*split_url(temporary), split_url(path)[1])
        self.remove(temporary)

    def read_versioned(self, path: str) -> StoredObject | None:
        """The object's bytes with its token, None when there is no object."""
        return self._get(*split_url(path))

    def create_if_absent(self, path: str, data: bytes) -> bool:
        """Store `data` as `path` only if no object has that name: True if this call created it, False if one
        existed (the server decides, so of concurrent callers exactly one gets True)."""
        return self._put(*split_url(path), data, if_absent=True)

    def replace_if_unchanged(self, path: str, data: bytes, token: str | None) -> bool:
        """Store `data` as `path` only if the object still has `token` (from `read_versioned`; None: only if there is
        no object). False when another writer got there first: read again and retry."""
        return self._put(*split_url(path), data, if_absent=token is None, if_token=token)

    # What each store implements

    def _get(self, bucket: str, key: str) -> StoredObject | None:
        raise NotImplementedError

    def _put(self, bucket: str, key: str, data: bytes, if_absent: bool = False, if_token: str | None = None) -> bool:
        """Store `data` (only if there is no object, or only if it has the token `if_token`, when asked); whether it
        was stored."""
        raise NotImplementedError

    def _upload(self, bucket: str, key: str, file: IO[bytes]) -> None:
        raise NotImplementedError

    def _reader(self, bucket: str, key: str) -> IO[bytes]:
        raise NotImplementedError

    def _object_exists(self, bucket: str, key: str) -> bool:
        raise NotImplementedError

    def _children(self, bucket: str, prefix: str, limit: int | None = None) -> Iterator[str]:
        """Keys of the objects and sub-prefixes (ending in '/') directly under `prefix`."""
        raise NotImplementedError

    def _copy(self, bucket: str, key: str, new_key: str) -> None:
        raise NotImplementedError

    def _delete(self, bucket: str, key: str) -> None:
        raise NotImplementedError


def _prefix(key: str) -> str:
    return f"{key}/" if key else ""


def _settings(*prefixes: str) -> tuple[tuple[str, str], ...]:
    """The environment variables a client reads (by prefix), as a cache key: a changed setting gets a new client."""
    return tuple(sorted((name, value) for name, value in os.environ.items() if name.startswith(prefixes)))


# Amazon S3


class S3Store(ObjectStore):
    """s3://bucket/key through boto3: conditional writes with If-None-Match and If-Match."""

    scheme = "s3"

    @property
    def _client(self) -> Any:
        return _s3_client(os.getpid(), _settings("AWS_"))

    @contextlib.contextmanager
    def _errors(self, bucket: str, key: str) -> Iterator[None]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except ClientError as error:
            details = error.response.get("Error", {})
            raise ObjectStoreError(
                f"{self.url(bucket, key)}: {details.get('Code')}: {details.get('Message')}"
            ) from error
        except BotoCoreError as error:
            raise ObjectStoreError(f"{self.url(bucket, key)}: {error}") from error

    def _get(self, bucket: str, key: str) -> StoredObject | None:
        client = self._client
        with self._errors(bucket, key):
            try:
                response = client.get_object(Bucket=bucket, Key=key)
            except client.exceptions.NoSuchKey:
                return None
            with response["Body"] as body:
                return StoredObject(body.read(), response["ETag"])

    def _put(self, bucket: str, key: str, data: bytes, if_absent: bool = False, if_token: str | None = None) -> bool:
        from botocore.exceptions import ClientError

        condition = {"IfNoneMatch": "*"} if if_absent else {"IfMatch": if_token} if if_token else {}
        with self._errors(bucket, key):
            try:
                self._client.put_object(Bucket=bucket, Key=key, Body=data, **condition)
            except ClientError as error:
                # 412: the condition failed; 409: a concurrent conditional write of the key won; 404: If-Match on
                # an object deleted since it was read.
                if condition and error.response.get("Error", {}).get("Code") in (
                    "PreconditionFailed",
                    "ConditionalRequestConflict",
                    "NoSuchKey",
                ):
                    return False
                raise
        return True

    def _upload(self, bucket: str, key: str, file: IO[bytes]) -> None:
        with self._errors(bucket, key):
            self._client.upload_fileobj(file, bucket, key)

    def _reader(self, bucket: str, key: str) -> IO[bytes]:
        client = self._client
        with self._errors(bucket, key):
            try:
                return client.get_object(Bucket=bucket, Key=key)["Body"]
            except client.exceptions.NoSuchKey:
                raise FileNotFoundError(f"{self.url(bucket, key)}: no such object") from None

    def _object_exists(self, bucket: str, key: str) -> bool:
        from botocore.exceptions import ClientError

        with self._errors(bucket, key):
            try:
                self._client.head_object(Bucket=bucket, Key=key)
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                    return False
                raise
        return True

    def _children(self, bucket: str, prefix: str, limit: int | None = None) -> Iterator[str]:
        arguments = {"Bucket": bucket, "Prefix": prefix, "Delimiter": "/"}
        if limit:
            arguments["PaginationConfig"] = {"MaxItems": limit}
        with self._errors(bucket, prefix):
            for page in self._client.get_paginator("list_objects_v2").paginate(**arguments):
                yield from (entry["Prefix"] for entry in page.get("CommonPrefixes", []))
                yield from (entry["Key"] for entry in page.get("Contents", []))

    def _copy(self, bucket: str, key: str, new_key: str) -> None:
        with self._errors(bucket, new_key):
            self._client.copy_object(Bucket=bucket, Key=new_key, CopySource={"Bucket": bucket, "Key": key})

    def _delete(self, bucket: str, key: str) -> None:
        with self._errors(bucket, key):
            self._client.delete_object(Bucket=bucket, Key=key)


@functools.lru_cache(maxsize=8)
def _s3_client(pid: int, settings: tuple[tuple[str, str], ...]) -> Any:
    """One boto3 client per process and AWS_* settings (a client must not cross a fork)."""
    import boto3
    from botocore.config import Config

    custom_endpoint = any(name in ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL") for name, _ in settings)
    config = Config(s3={"addressing_style": "path"}) if custom_endpoint else None
    return boto3.session.Session().client("s3", config=config)


# Google Cloud Storage


class GCSStore(ObjectStore):
    """gs://bucket/key through google-cloud-storage: generation preconditions (`if_generation_match`)."""

    scheme = "gs"

    def _bucket(self, bucket: str) -> Any:
        return _gcs_client(os.getpid(), _settings("STORAGE_EMULATOR_HOST", "GOOGLE_", "CLOUDSDK_")).bucket(bucket)

    @contextlib.contextmanager
    def _errors(self, bucket: str, key: str) -> Iterator[None]:
        from google.api_core.exceptions import GoogleAPICallError
        from google.auth.exceptions import GoogleAuthError

        try:
            yield
        except GoogleAPICallError as error:
            raise ObjectStoreError(f"{self.url(bucket, key)}: {error.code} {error.message}") from error
        except GoogleAuthError as error:
            raise ObjectStoreError(f"{self.url(bucket, key)}: no usable Google credentials: {error}") from error

    def _get(self, bucket: str, key: str) -> StoredObject | None:
        from google.api_core.exceptions import NotFound

        with self._errors(bucket, key):
            blob = self._bucket(bucket).blob(key)
            try:
                data = blob.download_as_bytes()
            except NotFound:
                return None
            return StoredObject(data, str(blob.generation))  # the generation of the bytes downloaded

    def _put(self, bucket: str, key: str, data: bytes, if_absent: bool = False, if_token: str | None = None) -> bool:
        from google.api_core.exceptions import PreconditionFailed

        generation = 0 if if_absent else int(if_token) if if_token else None
        with self._errors(bucket, key):
            try:
                self._bucket(bucket).blob(key).upload_from_string(data, if_generation_match=generation)
            except PreconditionFailed:
                return False
        return True

    def _upload(self, bucket: str, key: str, file: IO[bytes]) -> None:
        with self._errors(bucket, key):
            self._bucket(bucket).blob(key).upload_from_file(file, rewind=True)

    def _reader(self, bucket: str, key: str) -> IO[bytes]:
        with self._errors(bucket, key):
            blob = self._bucket(bucket).get_blob(key)
            if blob is None:
                raise FileNotFoundError(f"{self.url(bucket, key)}: no such object")
            return blob.open("rb")  # reads the generation get_blob found

    def _object_exists(self, bucket: str, key: str) -> bool:
        with self._errors(bucket, key):
            return self._bucket(bucket).blob(key).exists()

    def _children(self, bucket: str, prefix: str, limit: int | None = None) -> Iterator[str]:
        with self._errors(bucket, prefix):
            blobs = self._bucket(bucket).client.list_blobs(bucket, prefix=prefix, delimiter="/", max_results=limit)
            for page in blobs.pages:
                yield from page.prefixes
                yield from (blob.name for blob in page)

    def _copy(self, bucket: str, key: str, new_key: str) -> None:
        with self._errors(bucket, new_key):
            source = self._bucket(bucket)
            source.copy_blob(source.blob(key), source, new_key)

    def _delete(self, bucket: str, key: str) -> None:
        from google.api_core.exceptions import NotFound

        with self._errors(bucket, key), contextlib.suppress(NotFound):
            self._bucket(bucket).blob(key).delete()


@functools.lru_cache(maxsize=8)
def _gcs_client(pid: int, settings: tuple[tuple[str, str], ...]) -> Any:
    """One storage client per process and setting (a client must not cross a fork)."""
    from google.cloud import storage

    return storage.Client()
