"""Registry safety on real folders: hostile model and channel names never become paths, and `promote` / `rollback`
refuse a version whose files do not match its manifest, leaving the channel where it was."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from components.registry.names import InvalidName, validate_name
from components.registry.store import IntegrityError, Registry
from tests.helpers import publish_files, tflite_report, write_model_files

HOSTILE_NAMES = {
    "../../etc": "contains a path separator",
    "..": "contains '..'",
    "a..b": "contains '..'",
    "/etc/passwd": "is an absolute path",
    "\\\\server\\share": "is an absolute path",
    "C:\\models": "is an absolute path",
    "c:models": "is an absolute path",
    "gs://bucket/model": "is an absolute path",
    "models/v1": "contains a path separator",
    "models\\v1": "contains a path separator",
    "mobilenet_v1/": "contains a path separator",
    ".hidden": "must be 1-64 of a-z 0-9 _ . - starting with a letter or digit",
    "-rf": "must be",
    "~root": "must be",
    "Mobilenet": "must be",
    "mobile net": "must be",
    "mobilenet\x00v1": "must be",
    "mobilenet\nv1": "must be",
    "mobilenet_v1\n": "must be",
    "caf\u00e9": "must be",
    "a" * 65: "must be",
    "": "must be",
}


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_names_are_refused_with_the_reason(name):
    for kind in ("model name", "channel"):
        with pytest.raises(InvalidName, match="^" + re.escape(f"invalid {kind} {name!r}: {HOSTILE_NAMES[name]}")):
            validate_name(name, kind)


@pytest.mark.parametrize("name", ["mobilenet_v1", "mobilenet-v2.int8", "0", "a" * 64, "production"])
def test_ordinary_names_pass(name):
    assert validate_name(name, "model name") == name


def test_hostile_names_create_nothing_outside_the_registry(tmp_path):
    root = tmp_path / "deep" / "registry"
    registry = Registry(str(root))
    publish_files(registry, tmp_path / "src", b"model")
    tflite, labels = write_model_files(tmp_path / "src")
    before = sorted(str(path) for path in tmp_path.rglob("*"))
    for name in HOSTILE_NAMES:
        with pytest.raises(InvalidName):
            registry.publish(name, str(tflite), str(labels), tflite_report())
        with pytest.raises(InvalidName):
            registry.promote("mobilenet_v1", 1, name)
        with pytest.raises(InvalidName):
            registry.versions(name)
    with pytest.raises(InvalidName):
        Registry(str(root)).channels("../registry")
    assert sorted(str(path) for path in tmp_path.rglob("*")) == before


@pytest.fixture
def registry(tmp_path) -> Registry:
    """mobilenet_v1 versions 1 and 2, version 1 promoted to production."""
    registry = Registry(str(tmp_path / "registry"))
    publish_files(registry, tmp_path / "a", b"first model")
    publish_files(registry, tmp_path / "b", b"second model")
    registry.promote("mobilenet_v1", 1, "production")
    return registry


def _edit_manifest(version_dir: Path, **changes) -> None:
    path = version_dir / "manifest.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


TAMPERINGS = {
    "manifest sha256 edited": (
        lambda folder: _edit_manifest(folder, sha256="0" * 64),
        "model.tflite has sha256 .* but the manifest says 0000",
    ),
    "model file replaced": (
        lambda folder: (folder / "model.tflite").write_bytes(b"\x1c\x00\x00\x00TFL3 evil"),
        "model.tflite has sha256 .* but the manifest says",
    ),
    "model file deleted": (lambda folder: (folder / "model.tflite").unlink(), "model.tflite is missing"),
    "labels edited": (
        lambda folder: (folder / "labels.txt").write_text("cat\ndog\nbag\n"),
        "labels.txt has sha256 .* but the manifest says",
    ),
    "manifest copied from another version": (
        lambda folder: _edit_manifest(folder, version=1),
        "manifest names mobilenet_v1 version 1",
    ),
}


@pytest.mark.parametrize("tampering", TAMPERINGS)
def test_promote_refuses_a_version_that_does_not_match_its_manifest(registry, tampering):
    tamper, message = TAMPERINGS[tampering]
    channel_file = Path(registry.root) / "mobilenet_v1" / "channels" / "production.json"
    channel_before = channel_file.read_bytes()
    tamper(Path(registry.root) / "mobilenet_v1" / "2")
    with pytest.raises(IntegrityError, match=f"^mobilenet_v1 version 2: {message}"):
        registry.promote("mobilenet_v1", 2, "production")
    with pytest.raises(IntegrityError):
        registry.promote("mobilenet_v1", 2, "staging")
    assert channel_file.read_bytes() == channel_before
    assert set(registry.channels("mobilenet_v1")) == {"production"}
    assert registry.read_index()["models"]["mobilenet_v1"]["channels"]["production"]["version"] == 1


def test_rollback_refuses_a_previous_version_tampered_since(registry):
    registry.promote("mobilenet_v1", 2, "production")
    _edit_manifest(Path(registry.root) / "mobilenet_v1" / "1", sha256="f" * 64)
    with pytest.raises(IntegrityError, match="^mobilenet_v1 version 1: model.tflite has sha256"):
        registry.rollback("mobilenet_v1", "production")
    assert registry.channels("mobilenet_v1")["production"].version == 2
