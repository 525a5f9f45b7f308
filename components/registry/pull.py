"""Copy the version a release channel serves (or a given version) out of the registry into an app's build, e.g.
`app/src/main/assets/`, checked against its manifest and the channel and written so that a failed or killed pull
leaves the destination's previous files as they were.

Every file is read into memory and checked there (its sha256 against the manifest, the model's also against the
sha256 the channel recorded when it was promoted), so what is written is exactly what was checked. The files are
first written as hidden temporary files beside their targets; only when all three are complete are they renamed
over the targets, `manifest.json` last. A pull that fails or is killed before that leaves the previous files and,
at most, hidden temporary files that the next pull removes. The three renames are not one step: a failure or a kill
between them (a window of microseconds on a local disk) leaves the new model beside the previous
`manifest.json`, whose sha256 then does not match `model.tflite`. Pulls into one folder must not run at once.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any, Callable

from components.contracts import FLOAT_ACCURACY_FIELD, LABELS_FILE, MODEL_FILE, TFLITE_ACCURACY_FIELD
from components.registry.filesystems import filesystem_for, temporary_prefix
from components.registry.store import MANIFEST_FILE, IntegrityError, Registry, RegistryError

PULLED_FILES = (MODEL_FILE, LABELS_FILE, MANIFEST_FILE)
"""What a pull writes, in the order the files are moved into place (the manifest last)."""
DEFAULT_CHANNEL = "production"


@dataclasses.dataclass(frozen=True)
class Pulled:
    """What a pull wrote: the version, the channel it came through (None for `--version`), where, and its
    manifest."""

    model_name: str
    version: int
    channel: str | None
    destination: str
    manifest: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name,
            "version": self.version,
            "channel": self.channel,
            "destination": self.destination,
            "files": list(PULLED_FILES),
            "sha256": self.manifest["sha256"],
            **{
                key: self.manifest.get(key)
                for key in ("size_bytes", TFLITE_ACCURACY_FIELD, FLOAT_ACCURACY_FIELD, "quantization")
            },
        }


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _resolve(registry: Registry, model_name: str, channel: str | None, version: int | None) -> tuple[int, str | None]:
    """The version to pull and the sha256 its channel recorded (None when pulled by number)."""
    registry.show(model_name, version)  # an unknown model or version fails here, with the versions it has
    if version is not None:
        return version, None
    pointers = registry.channels(model_name)
    pointer = pointers.get(channel)
    if pointer is None:
        served = ", ".join(f"{name} (version {p.version})" for name, p in pointers.items()) or "none"
        raise RegistryError(
            f"channel '{channel}' of model '{model_name}' serves no version (channels: {served}); "
            f"promote one with: registry promote {model_name} VERSION --channel {channel}"
        )
    return pointer.version, pointer.current.sha256


def _read_checked(
    registry: Registry, model_name: str, version: int, channel_sha256: str | None
) -> tuple[dict[str, bytes], dict[str, Any]]:
    """The version's files as bytes, each checked against the manifest (and the model against the channel)."""
    folder = registry.show(model_name, version).path
    filesystem = filesystem_for(folder)
    files = {}
    for name in PULLED_FILES:
        path = filesystem.join(folder, name)
        if not filesystem.exists(path):
            raise IntegrityError(f"{model_name} version {version}: {name} is missing")
        with filesystem.open(path, "rb") as handle:
            files[name] = handle.read()
    manifest = json.loads(files[MANIFEST_FILE])
    if (manifest.get("model_name"), manifest.get("version")) != (model_name, version):
        raise IntegrityError(
            f"{model_name} version {version}: the manifest names {manifest.get('model_name')} "
            f"version {manifest.get('version')}"
        )
    for name, key in ((MODEL_FILE, "sha256"), (LABELS_FILE, "labels_sha256")):
        actual = _sha256(files[name])
        if actual != manifest.get(key):
            raise IntegrityError(
                f"{model_name} version {version}: {name} has sha256 {actual}, but the manifest "
                f"says {manifest.get(key)}; nothing was written"
            )
    if channel_sha256 is not None and channel_sha256 != manifest["sha256"]:
        raise IntegrityError(
            f"{model_name} version {version}: the channel recorded sha256 {channel_sha256} when it "
            f"was promoted, but the version's {MODEL_FILE} has {manifest['sha256']}; nothing was "
            "written"
        )
    return files, manifest


def pull(
    registry: Registry,
    model_name: str,
    destination: str,
    channel: str | None = None,
    version: int | None = None,
    before_commit: Callable[[str], None] | None = None,
) -> Pulled:
    """Copy `model_name`'s version (`version`, else the one `channel` serves, else production's) into the folder
    `destination` (any tf.io.gfile path). `before_commit` is called with `destination` once every file is staged
    and checked, just before they replace the previous ones (tests stop a pull there)."""
    if version is None and channel is None:
        channel = DEFAULT_CHANNEL
    number, channel_sha256 = _resolve(registry, model_name, channel, version)
    files, manifest = _read_checked(registry, model_name, number, channel_sha256)
    filesystem = filesystem_for(destination)
    filesystem.makedirs(destination)
    prefixes = tuple(temporary_prefix(name) for name in PULLED_FILES)
    for leftover in filesystem.listdir(destination):
        if leftover.startswith(prefixes):
            filesystem.remove(filesystem.join(destination, leftover))
    staged: list[tuple[str, str]] = []
    try:
        for name in PULLED_FILES:
            target = filesystem.join(destination, name)
            staged.append((filesystem.write_temporary(target, files[name]), target))
        if before_commit:
            before_commit(destination)
        for temporary, target in staged:
            filesystem.replace(temporary, target)
    except BaseException:
        for temporary, _ in staged:
            filesystem.remove(temporary)
        raise
    return Pulled(model_name, number, None if version is not None else channel, destination, manifest)
