"""What `model.weights` may name, parsed without TensorFlow (the config checks it before anything runs).

`none`, `imagenet`, a path to a `.h5` file, or a registry version of the same model: `production` (the version
the app ships: the channel `gates.baseline_channel`, else the latest), `channel:NAME` or `version:N`.
"""

from __future__ import annotations

NONE, IMAGENET = "none", "imagenet"
PRODUCTION, CHANNEL_PREFIX, VERSION_PREFIX = "production", "channel:", "version:"


class WarmStartError(ValueError):
    """The weights asked for cannot be found or do not fit the network; the message names the file."""


def registry_source(weights: str) -> tuple[str, str | int] | None:
    """The registry version `model.weights` names: ("channel", "") for `production` (the baseline channel, else
    the latest version), ("channel", NAME), ("version", N); None for none, imagenet or a path. WarmStartError for
    a malformed `channel:` or `version:` value."""
    if weights == PRODUCTION:
        return "channel", ""
    for prefix, kind in ((CHANNEL_PREFIX, "channel"), (VERSION_PREFIX, "version")):
        if weights.startswith(prefix):
            value = weights[len(prefix) :].strip()
            if kind == "version":
                if not value.isdigit() or int(value) < 1:
                    raise WarmStartError(f"model.weights: {weights!r}: expected version:N with N a version number")
                return kind, int(value)
            if not value:
                raise WarmStartError(f"model.weights: {weights!r}: expected channel:NAME")
            return kind, value
    return None
