"""The version of a model the app ships: what a release channel serves, else the latest version.

The no-regression baseline and the warm start from `production` both start from it, so both agree on which
version that is."""

from __future__ import annotations

from components.registry import store


def shipped_version(
    registry: store.Registry, model_name: str, channel: str
) -> tuple[store.RegistryVersion, str] | None:
    """The version `channel` serves, else the latest complete one, checked against its manifest; with where it
    came from (`channel production`, or `latest version, channel production is not set`). None if there is none."""
    if not registry.exists() or not registry.versions(model_name):
        return None
    pointer = registry.channels(model_name).get(channel)
    if pointer is not None:
        return registry.verify(model_name, pointer.version), f"channel {channel}"
    latest = registry.show(model_name)
    return registry.verify(model_name, latest.version), f"latest version, channel {channel} is not set"
