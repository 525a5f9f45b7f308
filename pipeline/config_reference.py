"""The configuration reference, generated from the settings' own documentation in `pipeline/config.py`:
`docs/configuration.md` (`python -m pipeline.config_reference`, checked by a test) and `show-config --keys`."""

from __future__ import annotations

import dataclasses
import sys
from typing import Any

from pipeline.config import REPO_ROOT, Config

REFERENCE_PATH = REPO_ROOT / "docs" / "configuration.md"


def _shown(value: Any) -> str:
    """A default as it is written in YAML or after --set."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return ",".join(map(str, value)) or "(empty)"
    if value == "":
        return "(empty)"
    text = str(value)
    return text if not text.startswith(str(REPO_ROOT)) else text[len(str(REPO_ROOT)) + 1 :]


def settings() -> list[tuple[str, str, list[tuple[str, str, str, str]]]]:
    """Each section: its name, its description, and (key, default, allowed values, meaning) per setting."""
    config = Config()
    sections = []
    for section_field in dataclasses.fields(config):
        section = getattr(config, section_field.name)
        rows = [
            (
                f"{section_field.name}.{field.name}",
                _shown(getattr(section, field.name)),
                field.metadata.get("allowed", ""),
                field.metadata.get("meaning", ""),
            )
            for field in dataclasses.fields(section)
        ]
        sections.append((section_field.name, (type(section).__doc__ or "").split("\n\n")[0].strip(), rows))
    return sections


def markdown() -> str:
    """The reference as Markdown: one table per section."""
    lines = [
        "# Configuration",
        "",
        "Every setting, its default, the values it allows and what it does. Settings come from the defaults, "
        "then a YAML file (`--config FILE`, sections as below), then `--set section.key=value` (repeatable); "
        "an unknown key or an impossible value is an error naming the key, before anything runs. "
        "`mobilenet-pipeline show-config` prints the effective configuration.",
        "",
        "This page is generated from `pipeline/config.py` (`python -m pipeline.config_reference`).",
        "",
    ]
    for name, description, rows in settings():
        lines += [
            f"## {name}",
            "",
            " ".join(description.split()),
            "",
            "| key | default | allowed | meaning |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| `{key}` | `{default}` | {allowed} | {' '.join(meaning.split())} |"
            for key, default, allowed, meaning in rows
        ]
        lines.append("")
    return "\n".join(lines)


def plain_text() -> str:
    """The reference as text for the terminal (`show-config --keys`)."""
    lines = []
    for _, _, rows in settings():
        for key, default, allowed, meaning in rows:
            lines.append(f"{key} = {default}")
            lines.append(f"    {meaning}" + (f" [{allowed}]" if allowed else ""))
    return "\n".join(lines) + "\n"


def main() -> int:
    """Write docs/configuration.md."""
    REFERENCE_PATH.write_text(markdown(), encoding="utf-8")
    sys.stdout.write(f"wrote {REFERENCE_PATH}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
