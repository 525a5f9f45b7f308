"""A versioned model registry an Android app release can trust: immutable integer versions, manifests, an
index and release channels, safe under any number of concurrent pushers and promoters.

Layout under the root (a local folder, gs://bucket/path or s3://bucket/path: `filesystems.REGISTRY_STORES`):

    index.json                         every model with its complete versions (key manifest fields) and channels
    <model>/<version>/model.tflite     version = 1, 2, 3 ...: never reused, never rewritten
    <model>/<version>/labels.txt
    <model>/<version>/report.md, .png  the TFLite validation report of this model (when the pusher passes it)
    <model>/<version>/manifest.json    written last: a version is complete only when its manifest exists
    <model>/<version>/.claim           on object stores: the push that owns the number
    <model>/channels/<channel>.json    pointer: version, sha256, promoted_at and the history rollback walks back
    <model>/held_back/<time>-<id>.json a candidate the gates held back: what it was trained on and why it failed

What holds, and why:
- A number belongs to one push, and its version is visible (listed, shown, pulled) only once all its files are
  written, since readers list only versions whose manifest exists.
  Local folders: a version is staged in the hidden `<model>/.staging-<id>/` and renamed into place; the rename
  fails when the number is taken, and the loser retries with the next. A crash leaves only the staging folder,
  which readers never list and a later publish removes once it is stale.
  Object stores: a push claims the next number by creating `<model>/<version>/.claim` if absent (the store lets
  exactly one creator succeed; the others try the next number), writes its files into that folder, then the
  manifest, also create-if-absent. Only the claim's owner writes there. A crashed push leaves a claimed folder
  without manifest: never listed, and its number never reused, because the next number is one more than every
  numbered folder.
- Channel moves and index.json lose no update: each is a read, a change derived from what was read, and a
  compare-and-swap that fails if anyone wrote in between, retried from a fresh read. index.json is rebuilt from
  the listing after every change, so the last rewrite includes every change finished before it began; a crash
  between a change and its rewrite leaves index.json behind until the next change (the listing stays the truth:
  every read here uses it).
- A conditional write whose reply was lost, and whose retry by the client finds its own object, counts as done:
  the object is compared with what was written (claims are unique, so another push's never matches).
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import uuid
from typing import Any, Callable, Mapping

from absl import logging

from components.contracts import (
    FLOAT_ACCURACY_FIELD,
    LABELS_FILE,
    LATENCY_FIELD,
    MODEL_FILE,
    TFLITE_ACCURACY_FIELD,
    url_of,
    url_parts,
)
from components.registry.filesystems import (
    REGISTRY_STORES,
    LocalFilesystem,
    create_or_own,
    filesystem_for,
    registry_filesystem_for,
    swap,
)
from components.registry.names import validate_name

MANIFEST_FILE = "manifest.json"
INDEX_FILE = "index.json"
CHANNELS_DIR = "channels"
STAGING_PREFIX = ".staging-"
CLAIM_FILE = ".claim"
HELD_BACK_DIR = "held_back"
FORMAT_VERSION = 1
REQUIRED_MANIFEST_FIELDS = (
    "architecture",
    "quantization",
    TFLITE_ACCURACY_FIELD,
    FLOAT_ACCURACY_FIELD,
    LATENCY_FIELD,
    "input_shape",
    "labels_count",
    "source_examples",
)
INDEX_VERSION_FIELDS = (
    "sha256",
    "size_bytes",
    "architecture",
    "quantization",
    TFLITE_ACCURACY_FIELD,
    FLOAT_ACCURACY_FIELD,
    LATENCY_FIELD,
    "input_shape",
    "labels_count",
    "created_at",
)
TFLITE_FILE_IDENTIFIER = b"TFL3"
MAX_PUBLISH_ATTEMPTS = 100
_COPY_CHUNK_BYTES = 1 << 20


class RegistryError(ValueError):
    """A registry operation that cannot be done as asked."""


class VersionNotFound(RegistryError):
    """The model or the version does not exist (or is not complete)."""


class IntegrityError(RegistryError):
    """A version's files do not match its manifest."""


@dataclasses.dataclass(frozen=True)
class RegistryVersion:
    """One complete, immutable version of a model and its manifest."""

    model_name: str
    version: int
    path: str
    manifest: dict[str, Any]

    @property
    def sha256(self) -> str:
        return self.manifest["sha256"]


@dataclasses.dataclass(frozen=True)
class ChannelEntry:
    """A version a channel pointed at, and since when."""

    version: int
    sha256: str
    promoted_at: str

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class ChannelPointer:
    """A release channel of one model: the version it serves now and the earlier ones, oldest first."""

    model_name: str
    channel: str
    current: ChannelEntry
    history: tuple[ChannelEntry, ...] = ()

    @property
    def version(self) -> int:
        return self.current.version

    def to_json(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name,
            "channel": self.channel,
            **self.current.to_json(),
            "history": [entry.to_json() for entry in self.history],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ChannelPointer:
        return cls(
            model_name=data["model_name"],
            channel=data["channel"],
            current=ChannelEntry(data["version"], data["sha256"], data["promoted_at"]),
            history=tuple(ChannelEntry(**entry) for entry in data.get("history", [])),
        )


@dataclasses.dataclass(frozen=True)
class ModelSummary:
    """A model of the registry: its complete versions (ascending) and the version each channel serves."""

    name: str
    versions: tuple[int, ...]
    channels: dict[str, int]

    @property
    def latest_version(self) -> int:
        return self.versions[-1]


def utc_now() -> str:
    """The current UTC time as ISO 8601, e.g. 2026-11-25T07:17:50Z."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def file_sha256(path: str) -> str:
    """SHA-256 hex digest of a file on any filesystem."""
    digest = hashlib.sha256()
    with filesystem_for(path).open(path, "rb") as handle:
        while chunk := handle.read(_COPY_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _version_number(name: str) -> int | None:
    """The version of a folder name ('7' -> 7); None for anything else (hidden folders, 'channels', '07')."""
    return int(name) if name.isdigit() and str(int(name)) == name and int(name) > 0 else None


class Registry:
    """The model registry under `root`: a local folder, gs:// or s3:// (RegistryError for any other store).

    `before_commit` is called with the folder holding a fully written version just before it becomes visible
    (tests use it to stop a push half-way). Local staging folders older than `stale_staging_seconds` are left
    by crashed pushes and are removed by the next publish of that model.
    """

    def __init__(
        self, root: str, *, before_commit: Callable[[str], None] | None = None, stale_staging_seconds: float = 3600.0
    ) -> None:
        self.root = root.rstrip("/") or "/"
        filesystem = registry_filesystem_for(self.root)
        if filesystem is None:
            raise RegistryError(
                f"registry {self.root}: {url_of(url_parts(self.root)[0], '')} has no atomic "
                "create-if-absent and compare-and-swap, which concurrent pushes need; a registry "
                f"root is {REGISTRY_STORES}"
            )
        self._fs = filesystem
        self._before_commit = before_commit
        self._stale_staging_seconds = stale_staging_seconds

    # Reading

    def exists(self) -> bool:
        """Whether the root folder exists."""
        return self._fs.isdir(self.root)

    def list_models(self) -> list[ModelSummary]:
        """Models with at least one complete version, by name."""
        summaries = []
        for name in sorted(self._fs.listdir(self.root)):
            if name.startswith(".") or not self._fs.isdir(self._fs.join(self.root, name)):
                continue
            try:
                validate_name(name, "model name")
            except ValueError:
                continue
            versions = self._complete_versions(name)
            if versions:
                channels = {channel: pointer.version for channel, pointer in self.channels(name).items()}
                summaries.append(ModelSummary(name, tuple(versions), channels))
        return summaries

    def versions(self, model_name: str) -> list[RegistryVersion]:
        """Complete versions of a model, oldest first; [] for an unknown model."""
        validate_name(model_name, "model name")
        return [self._read_version(model_name, number) for number in self._complete_versions(model_name)]

    def latest_version(self, model_name: str) -> int | None:
        """The highest complete version of a model, None if it has none."""
        validate_name(model_name, "model name")
        versions = self._complete_versions(model_name)
        return versions[-1] if versions else None

    def show(self, model_name: str, version: int | None = None) -> RegistryVersion:
        """One complete version (the latest when `version` is None); VersionNotFound otherwise."""
        validate_name(model_name, "model name")
        versions = self._complete_versions(model_name)
        if not versions:
            raise VersionNotFound(f"model '{model_name}' has no versions in registry {self.root}")
        if version is None:
            version = versions[-1]
        if version not in versions:
            listed = ", ".join(str(number) for number in versions)
            raise VersionNotFound(f"model '{model_name}' has no version {version} (versions: {listed})")
        return self._read_version(model_name, version)

    def channels(self, model_name: str) -> dict[str, ChannelPointer]:
        """The channel pointers of a model, by channel name."""
        validate_name(model_name, "model name")
        folder = self._fs.join(self.root, model_name, CHANNELS_DIR)
        pointers = {}
        for file_name in sorted(self._fs.listdir(folder)):
            channel, _, suffix = file_name.rpartition(".")
            if suffix == "json" and not file_name.startswith("."):
                pointer = self._read_channel(model_name, channel)
                if pointer:
                    pointers[channel] = pointer
        return pointers

    def verify(self, model_name: str, version: int) -> RegistryVersion:
        """Check a version's files against its manifest (sha256 of the model, the labels and every other file it
        records); IntegrityError on any difference."""
        entry = self.show(model_name, version)
        manifest = entry.manifest
        expected = {
            MODEL_FILE: manifest.get("sha256"),
            LABELS_FILE: manifest.get("labels_sha256"),
            **(manifest.get("file_sha256") or {}),
        }
        for file_name, digest in expected.items():
            path = self._fs.join(entry.path, file_name)
            if not self._fs.exists(path):
                raise IntegrityError(f"{model_name} version {version}: {file_name} is missing")
            actual = file_sha256(path)
            if actual != digest:
                raise IntegrityError(
                    f"{model_name} version {version}: {file_name} has sha256 {actual}, but the manifest says {digest}"
                )
        if manifest.get("model_name") != model_name or manifest.get("version") != version:
            raise IntegrityError(
                f"{model_name} version {version}: manifest names {manifest.get('model_name')} "
                f"version {manifest.get('version')}"
            )
        return entry

    def file_path(self, entry: RegistryVersion, role: str) -> str | None:
        """The path of the file a version carries in `role` (e.g. `weights`), None when it has none."""
        name = (entry.manifest.get("files") or {}).get(role)
        return self._fs.join(entry.path, name) if name else None

    def held_back(self, model_name: str) -> list[dict[str, Any]]:
        """The records of candidates the gates held back, oldest first."""
        validate_name(model_name, "model name")
        folder = self._fs.join(self.root, model_name, HELD_BACK_DIR)
        records = []
        for file_name in sorted(self._fs.listdir(folder)):
            if file_name.endswith(".json") and not file_name.startswith("."):
                with self._fs.open(self._fs.join(folder, file_name), "rb") as handle:
                    records.append(json.loads(handle.read()))
        return sorted(records, key=lambda record: record.get("created_at", ""))

    def record_held_back(self, model_name: str, record: Mapping[str, Any]) -> str:
        """Keep a record of a candidate the gates held back (what it was trained on, why it failed), so that a
        later run can tell it was already judged; returns its path. Versions, channels and the index are
        untouched."""
        validate_name(model_name, "model name")
        created = utc_now()
        name = f"{created.replace(':', '').replace('-', '')}-{uuid.uuid4().hex[:12]}.json"
        path = self._fs.join(self.root, model_name, HELD_BACK_DIR, name)
        self._fs.write_atomic(path, _json_bytes({**record, "model_name": model_name, "created_at": created}))
        logging.info("Recorded a held-back candidate of %s at %s", model_name, path)
        return path

    def read_index(self) -> dict[str, Any]:
        """The parsed index.json ({} when none was written yet)."""
        stored = self._fs.read_versioned(self._fs.join(self.root, INDEX_FILE))
        return json.loads(stored.data) if stored else {}

    # Writing

    def publish(
        self,
        model_name: str,
        tflite_path: str,
        labels_path: str,
        manifest_fields: Mapping[str, Any],
        pipeline_run_id: str | None = None,
        extra_files: Mapping[str, str] | None = None,
    ) -> RegistryVersion:
        """Add a new version of `model_name` with the model and labels files (any tf.io.gfile paths), plus
        `extra_files` (role -> path, e.g. the validation report) copied under their own names.

        `manifest_fields` (e.g. the TFLite report) must hold REQUIRED_MANIFEST_FIELDS; the registry adds
        model_name, version, size_bytes, sha256, labels_sha256, created_at and pipeline_run_id, which win over
        fields of the same name. The version is visible only once complete; index.json is rewritten after.
        """
        validate_name(model_name, "model name")
        missing = [field for field in REQUIRED_MANIFEST_FIELDS if field not in manifest_fields]
        if missing:
            raise RegistryError(f"cannot publish {model_name}: manifest fields missing: {', '.join(missing)}")
        _check_tflite_file(tflite_path)
        _check_labels_file(labels_path, manifest_fields["labels_count"])
        model_dir = self._fs.join(self.root, model_name)
        self._fs.makedirs(model_dir)
        fields = dict(manifest_fields, model_name=model_name, pipeline_run_id=pipeline_run_id)
        sources = {"model": (tflite_path, MODEL_FILE), "labels": (labels_path, LABELS_FILE)}
        for role, path in (extra_files or {}).items():
            name = path.rsplit("/", 1)[-1]
            if role in sources or name in (MODEL_FILE, LABELS_FILE, MANIFEST_FILE):
                raise RegistryError(
                    f"cannot publish {model_name}: extra file {role}={path} clashes with a version file"
                )
            sources[role] = (path, name)
        if isinstance(self._fs, LocalFilesystem):
            version = self._publish_staged(model_dir, sources, fields)
        else:
            version = self._publish_claimed(model_dir, sources, fields)
        self._update_index()
        logging.info("Published %s version %d to %s", model_name, version, self._fs.join(model_dir, str(version)))
        return self.show(model_name, version)

    def promote(self, model_name: str, version: int, channel: str) -> ChannelPointer:
        """Point `channel` at `version` after checking its files against the manifest (refused on mismatch)."""
        validate_name(model_name, "model name")
        validate_name(channel, "channel")
        self._require_root()
        entry = self.verify(model_name, version)

        def move(current: ChannelPointer | None) -> ChannelPointer | None:
            if current and current.version == version:
                return None
            history = (*current.history, current.current) if current else ()
            return ChannelPointer(model_name, channel, ChannelEntry(version, entry.sha256, utc_now()), history)

        current, pointer = self._move_channel(model_name, channel, move)
        if pointer is None:
            logging.info("%s channel %s already serves version %d", model_name, channel, version)
            return current
        self._update_index()
        logging.info("Promoted %s version %d to channel %s", model_name, version, channel)
        return pointer

    def rollback(self, model_name: str, channel: str) -> ChannelPointer:
        """Move `channel` back to the version it served before the current one (checked like `promote`)."""
        validate_name(model_name, "model name")
        validate_name(channel, "channel")
        self._require_root()

        def back(current: ChannelPointer | None) -> ChannelPointer:
            if current is None:
                raise RegistryError(f"channel '{channel}' of model '{model_name}' is not set: nothing to roll back")
            if not current.history:
                raise RegistryError(
                    f"channel '{channel}' of model '{model_name}' has only ever served version "
                    f"{current.version}: nothing to roll back to"
                )
            previous = current.history[-1]
            entry = self.verify(model_name, previous.version)
            if entry.sha256 != previous.sha256:
                raise IntegrityError(
                    f"{model_name} version {previous.version} has sha256 {entry.sha256}, but "
                    f"channel '{channel}' recorded {previous.sha256}"
                )
            return ChannelPointer(
                model_name, channel, ChannelEntry(previous.version, previous.sha256, utc_now()), current.history[:-1]
            )

        current, pointer = self._move_channel(model_name, channel, back)
        self._update_index()
        logging.info(
            "Rolled %s channel %s back from version %d to %d", model_name, channel, current.version, pointer.version
        )
        return pointer

    # Internals

    def _require_root(self) -> None:
        if not self.exists():
            raise RegistryError(f"registry {self.root} does not exist")

    def _complete_versions(self, model_name: str) -> list[int]:
        model_dir = self._fs.join(self.root, model_name)
        numbers = sorted(filter(None, map(_version_number, self._fs.listdir(model_dir))))
        return [number for number in numbers if self._fs.exists(self._fs.join(model_dir, str(number), MANIFEST_FILE))]

    def _next_version(self, model_dir: str) -> int:
        """One more than every numbered folder, complete or not: numbers are never reused."""
        return max(filter(None, map(_version_number, self._fs.listdir(model_dir))), default=0) + 1

    def _read_version(self, model_name: str, version: int) -> RegistryVersion:
        path = self._fs.join(self.root, model_name, str(version))
        with self._fs.open(self._fs.join(path, MANIFEST_FILE), "rb") as handle:
            return RegistryVersion(model_name, version, path, json.loads(handle.read()))

    def _channel_path(self, model_name: str, channel: str) -> str:
        return self._fs.join(self.root, model_name, CHANNELS_DIR, f"{channel}.json")

    def _read_channel(self, model_name: str, channel: str) -> ChannelPointer | None:
        stored = self._fs.read_versioned(self._channel_path(model_name, channel))
        return _parse_channel(stored.data if stored else None)

    def _move_channel(
        self, model_name: str, channel: str, move: Callable[[ChannelPointer | None], ChannelPointer | None]
    ) -> tuple[ChannelPointer | None, ChannelPointer | None]:
        """Replace a channel's pointer with `move(current pointer)` by compare-and-swap (None: leave it); the
        pointer `move` was given and the one written."""

        def change(data: bytes | None) -> bytes | None:
            pointer = move(_parse_channel(data))
            return _json_bytes(pointer.to_json()) if pointer else None

        before, after = swap(self._fs, self._channel_path(model_name, channel), change)
        return _parse_channel(before), _parse_channel(after)

    def _update_index(self) -> None:
        """Rebuild index.json from the listing, by compare-and-swap (the listing is read after the index)."""
        swap(self._fs, self._fs.join(self.root, INDEX_FILE), lambda _: _json_bytes(self._index()))

    def _index(self) -> dict[str, Any]:
        models = {}
        for summary in self.list_models():
            versions = []
            for entry in self.versions(summary.name):
                relative = f"{summary.name}/{entry.version}"
                versions.append(
                    {
                        "version": entry.version,
                        "path": relative,
                        "model_file": f"{relative}/{MODEL_FILE}",
                        "labels_file": f"{relative}/{LABELS_FILE}",
                        **{key: entry.manifest.get(key) for key in INDEX_VERSION_FIELDS},
                    }
                )
            channels = {name: pointer.current.to_json() for name, pointer in self.channels(summary.name).items()}
            models[summary.name] = {
                "latest_version": summary.latest_version,
                "versions": versions,
                "channels": channels,
            }
        return {"format_version": FORMAT_VERSION, "updated_at": utc_now(), "models": models}

    def _copy_payload(self, folder: str, sources: Mapping[str, tuple[str, str]]) -> dict[str, Any]:
        """Copy each (source, name) of `sources` into `folder`; return the fields the manifest gets from them."""
        hashes = {
            role: self._copy_and_hash(source, self._fs.join(folder, name)) for role, (source, name) in sources.items()
        }
        return {
            "size_bytes": hashes["model"][0],
            "sha256": hashes["model"][1],
            "labels_sha256": hashes["labels"][1],
            "files": {role: name for role, (_, name) in sources.items()},
            **(
                {"file_sha256": others}
                if (
                    others := {
                        name: hashes[role][1] for role, (_, name) in sources.items() if role not in ("model", "labels")
                    }
                )
                else {}
            ),
        }

    def _copy_and_hash(self, source: str, destination: str) -> tuple[int, str]:
        digest, size = hashlib.sha256(), 0
        with filesystem_for(source).open(source, "rb") as reader, self._fs.open(destination, "wb") as writer:
            while chunk := reader.read(_COPY_CHUNK_BYTES):
                digest.update(chunk)
                writer.write(chunk)
                size += len(chunk)
            self._fs.sync(writer)
        return size, digest.hexdigest()

    def _manifest(self, fields: Mapping[str, Any], payload: Mapping[str, Any], version: int) -> bytes:
        manifest = {"format_version": FORMAT_VERSION, **fields, **payload, "version": version, "created_at": utc_now()}
        return _json_bytes(manifest)

    def _publish_staged(self, model_dir: str, sources: Mapping[str, tuple[str, str]], fields: Mapping[str, Any]) -> int:
        """Local roots: write everything in a hidden folder, then rename it to the next free number."""
        self._remove_stale_staging(model_dir)
        staged = self._fs.join(model_dir, f"{STAGING_PREFIX}{uuid.uuid4().hex}")
        self._fs.makedirs(staged)
        try:
            payload = self._copy_payload(staged, sources)
            for _ in range(MAX_PUBLISH_ATTEMPTS):
                version = self._next_version(model_dir)
                self._fs.write_atomic(self._fs.join(staged, MANIFEST_FILE), self._manifest(fields, payload, version))
                if self._before_commit:
                    self._before_commit(staged)
                if self._fs.commit_directory(staged, self._fs.join(model_dir, str(version))):
                    return version
                logging.info("Version %d of %s was taken by a concurrent push; trying the next", version, model_dir)
        except BaseException:
            self._fs.remove_tree(staged)
            raise
        self._fs.remove_tree(staged)
        raise RegistryError(f"could not claim a version under {model_dir} after {MAX_PUBLISH_ATTEMPTS} attempts")

    def _publish_claimed(
        self, model_dir: str, sources: Mapping[str, tuple[str, str]], fields: Mapping[str, Any]
    ) -> int:
        """Object stores: claim the next free number (create-if-absent of its claim), write the files into it, then
        the manifest (create-if-absent: nobody but the claim's owner writes there)."""
        claim = _json_bytes(
            {"claim_id": uuid.uuid4().hex, "claimed_at": utc_now(), "pipeline_run_id": fields.get("pipeline_run_id")}
        )
        version = 0
        for _ in range(MAX_PUBLISH_ATTEMPTS):
            version = max(self._next_version(model_dir), version + 1)
            if create_or_own(self._fs, self._fs.join(model_dir, str(version), CLAIM_FILE), claim):
                break
            logging.info("Version %d of %s was claimed by a concurrent push; trying the next", version, model_dir)
        else:
            raise RegistryError(f"could not claim a version under {model_dir} after {MAX_PUBLISH_ATTEMPTS} attempts")
        target = self._fs.join(model_dir, str(version))
        payload = self._copy_payload(target, sources)
        if self._before_commit:
            self._before_commit(target)
        manifest = self._fs.join(target, MANIFEST_FILE)
        if not create_or_own(self._fs, manifest, self._manifest(fields, payload, version)):
            raise RegistryError(
                f"{manifest} exists, written by another writer while this push held version "
                f"{version}'s claim: the store's create-if-absent did not hold"
            )
        return version

    def _remove_stale_staging(self, model_dir: str) -> None:
        for name in self._fs.listdir(model_dir):
            path = self._fs.join(model_dir, name)
            if name.startswith(STAGING_PREFIX) and self._fs.age_seconds(path) >= self._stale_staging_seconds:
                logging.warning("Removing %s, left by an interrupted push", path)
                self._fs.remove_tree(path)


def _parse_channel(data: bytes | None) -> ChannelPointer | None:
    return ChannelPointer.from_json(json.loads(data)) if data else None


def _json_bytes(data: Mapping[str, Any]) -> bytes:
    return (json.dumps(data, indent=2) + "\n").encode("utf-8")


def _check_tflite_file(path: str) -> None:
    """Refuse a file that is not a TFLite flatbuffer (identifier 'TFL3' at bytes 4-8)."""
    with filesystem_for(path).open(path, "rb") as handle:
        header = handle.read(8)
    if header[4:8] != TFLITE_FILE_IDENTIFIER:
        raise RegistryError(f"{path} is not a TFLite model (no 'TFL3' file identifier)")


def _check_labels_file(path: str, labels_count: int) -> None:
    """Refuse a labels file whose number of (non-empty) lines differs from the model's `labels_count`."""
    with filesystem_for(path).open(path, "rb") as handle:
        labels = [line for line in handle.read().decode("utf-8").splitlines() if line.strip()]
    if len(labels) != labels_count:
        raise RegistryError(f"{path} has {len(labels)} labels but the model has labels_count={labels_count}")
