"""Validation of the names that become path components of the registry: model names and channel names."""

from __future__ import annotations

import re

from components.contracts import is_remote

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
NAME_RULE = "1-64 of a-z 0-9 _ . - starting with a letter or digit"


class InvalidName(ValueError):
    """A model or channel name that cannot be used as a single, safe path component."""


def validate_name(value: object, kind: str) -> str:
    """Return `value` if it is a safe registry name, else raise InvalidName naming the value and the reason.

    `kind` says what the name is for ("model name", "channel"). Refused: separators, absolute paths, `..`,
    upper case and anything else outside NAME_PATTERN.
    """
    if not isinstance(value, str):
        raise InvalidName(f"invalid {kind} {value!r}: must be a string")
    if value.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", value) or is_remote(value):
        reason = "is an absolute path"
    elif "/" in value or "\\" in value:
        reason = "contains a path separator"
    elif ".." in value:
        reason = "contains '..'"
    elif not NAME_PATTERN.fullmatch(value):
        reason = f"must be {NAME_RULE}"
    else:
        return value
    raise InvalidName(f"invalid {kind} {value!r}: {reason}")
