"""What a run trains on: the span folders `data.spans` picks from a data root, and a fingerprint of their files.

A data root holds either class folders (`ROOT/<label>/<file>`: one span) or span folders of class folders
(`ROOT/<span>/<label>/<file>`), where a span folder is named like TFX's input patterns `span-{SPAN}` (span N)
or `{YYYY}-{MM}-{DD}` (span = days since 1970-01-01, as TFX numbers dates). `data.spans` selects as TFX's
`RangeConfig` does: `all` every span, `latest` the newest, and N a `RollingRange(num_spans=N)`: the spans whose
number is within N of the newest one (for dated folders, the N days ending at the newest folder), the rolling
window of TFX's span resolution (`SpanRangeStrategy`).

Every runner resolves spans with these functions when it runs (not in an ExampleGen driver, which open-source
Kubeflow Pipelines never runs), and the new-data check and ImageExampleGen compute the same fingerprint: a
SHA-256 over the sorted (relative path, size, content SHA-256) of every file, so it does not depend on listing
order.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import posixpath
import re
from typing import Any, Callable, Iterable, Sequence

from components.ingestion.data_files import readable_name

ALL_SPANS, LATEST_SPAN = "all", "latest"
SPAN_FOLDER_PATTERNS = ("span-{SPAN}", "{YYYY}-{MM}-{DD}")
"""The span folder names, in TFX's input-pattern notation."""
SPAN_FILES = "*/*"
"""The files of one span (or of a plain data root) below its folder: `<label>/<file>`."""
TRAINING_INPUT_FILE = "training_input.json"
"""Written by ImageExampleGen beside its splits: the spans and fingerprint of what it ingested."""
_NUMBERED = re.compile(r"span-(\d+)")
_DATED = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_EPOCH = datetime.date(1970, 1, 1)


class SpanError(ValueError):
    """A data root whose folders are not one of the two layouts, or a selection that is not `all`, `latest` or N."""


@dataclasses.dataclass(frozen=True, order=True)
class Span:
    """One span folder: its number (TFX's span) and its name."""

    number: int
    name: str


def span_of(name: str) -> Span | None:
    """The span a folder name denotes (`span-7` -> 7, `2026-12-01` -> 20788), None for any other name."""
    if match := _NUMBERED.fullmatch(name):
        return Span(int(match.group(1)), name)
    if match := _DATED.fullmatch(name):
        try:
            day = datetime.date(*(int(part) for part in match.groups()))
        except ValueError:
            return None
        return Span((day - _EPOCH).days, name)
    return None


def parse_selection(text: str) -> int | None:
    """`data.spans` as a number of spans (None: all); SpanError for anything but all, latest or a positive N."""
    value = str(text).strip().lower()
    if value == ALL_SPANS:
        return None
    if value == LATEST_SPAN:
        return 1
    if value.isdigit() and int(value) > 0:
        return int(value)
    raise SpanError(f"data.spans: {text!r} is invalid; expected all, latest or a positive number of spans")


def rolling_window(spans: Sequence[Span], num_spans: int | None) -> list[Span]:
    """The spans of a `RollingRange(num_spans)`: numbers from the newest - num_spans + 1 to the newest, oldest
    first; all of them when `num_spans` is None."""
    ordered = sorted(spans)
    if num_spans is None or not ordered:
        return ordered
    newest = ordered[-1].number
    return [span for span in ordered if span.number > newest - num_spans]


@dataclasses.dataclass(frozen=True)
class SpanSelection:
    """The part of a data root a run trains on: the chosen span folders, or the whole root (plain layout)."""

    root: str
    spans: tuple[Span, ...]
    available: int

    @property
    def patterns(self) -> list[str]:
        """File patterns of the chosen files relative to the root, e.g. `2026-12-01/*/*`."""
        if not self.spans:
            return [SPAN_FILES]
        return [posixpath.join(span.name, SPAN_FILES) for span in self.spans]

    @property
    def names(self) -> list[str]:
        return [span.name for span in self.spans]

    def describe(self) -> str:
        """`spans 2026-12-01..2026-12-03`, `span span-4`, or `all of ROOT (no span folders)`."""
        return describe_spans(self.names) if self.spans else f"all of {self.root} (no span folders)"


def describe_spans(names: Sequence[str]) -> str:
    """`spans A..C` (the first and last of several), `span A`, or `no spans` (a plain data root)."""
    if not names:
        return "no spans (plain data root)"
    if len(names) == 1:
        return f"span {names[0]}"
    return f"spans {names[0]}..{names[-1]}"


def resolve(
    root: str, selection: str, listdir: Callable[[str], list[str]], isdir: Callable[[str], bool]
) -> SpanSelection:
    """The spans of `root` that `selection` (`data.spans`) picks; the whole root when it holds class folders.

    `listdir` and `isdir` are the filesystem's (os or tf.io.gfile). A root with both span folders and other
    folders, or with both kinds of span names, is refused (SpanError naming them): either could be a class."""
    num_spans = parse_selection(selection)
    folders = sorted(
        name.rstrip("/")
        for name in listdir(root)
        if not name.startswith(".") and isdir(posixpath.join(root, name.rstrip("/")))
    )
    spans = {name: span_of(name) for name in folders}
    found = [span for span in spans.values() if span is not None]
    if not found:
        if num_spans is not None:
            raise SpanError(
                f"data.spans: {selection!r} asks for span folders, but {root} has none (its folders "
                f"are classes: {', '.join(folders[:5]) or 'none'}); name span folders "
                f"{' or '.join(SPAN_FOLDER_PATTERNS)}, or set data.spans=all"
            )
        return SpanSelection(root, (), 0)
    others = [name for name, span in spans.items() if span is None]
    if others:
        raise SpanError(
            f"{root}: has span folders ({found[0].name}) and other folders ({', '.join(others[:5])}); "
            "put every class folder inside a span folder"
        )
    if len({bool(_DATED.fullmatch(span.name)) for span in found}) > 1:
        raise SpanError(f"{root}: mixes dated span folders and span-N folders; use one kind")
    return SpanSelection(root, tuple(rolling_window(found, num_spans)), len(found))


def fingerprint(files: Iterable[tuple[str, int, str]]) -> str:
    """SHA-256 over (relative path, size, content SHA-256) of every file, in sorted order; a path that is not
    UTF-8 counts by its `readable_name`, as ImageExampleGen reports it."""
    digest = hashlib.sha256()
    for path, size, content in sorted((readable_name(path), size, content) for path, size, content in files):
        digest.update(f"{path}\t{size}\t{content}\n".encode("utf-8"))
    return digest.hexdigest()


@dataclasses.dataclass(frozen=True)
class TrainingInput:
    """What a run trained on, as recorded in ImageExampleGen's output and in each manifest."""

    spans: tuple[str, ...]
    fingerprint: str
    files: int

    def describe(self) -> str:
        return describe_spans(self.spans)

    @property
    def latest_span_number(self) -> int:
        """TFX's span of the examples: the newest span's number (0 for a plain data root)."""
        newest = span_of(self.spans[-1]) if self.spans else None
        return newest.number if newest else 0

    def to_json(self) -> dict[str, Any]:
        return {"spans": list(self.spans), "fingerprint": self.fingerprint, "files": self.files}

    @classmethod
    def from_json(cls, data: Any) -> TrainingInput | None:
        """The record in `data` (a manifest's or report's `training_input`), None when absent or malformed."""
        if not isinstance(data, dict) or not isinstance(data.get("fingerprint"), str):
            return None
        return cls(tuple(data.get("spans") or ()), data["fingerprint"], int(data.get("files") or 0))

    def encode(self) -> str:
        return json.dumps(self.to_json(), sort_keys=True)


def scan(
    selection: SpanSelection,
    glob: Callable[[str], list[str]],
    isdir: Callable[[str], bool],
    read: Callable[[str], bytes],
    hidden: Callable[[str], bool],
    patterns: Sequence[str] | None = None,
    threads: int = 8,
) -> TrainingInput:
    """The `TrainingInput` of the files `selection` picks (or of `patterns` below its root), read with the
    filesystem's `glob`, `isdir` and `read`, skipping what `hidden` says is not data; files are hashed on
    `threads` threads (remote stores answer one request at a time)."""
    from concurrent.futures import ThreadPoolExecutor

    root = selection.root.rstrip("/")
    paths = sorted(
        {
            path
            for pattern in (patterns or selection.patterns)
            for path in glob(posixpath.join(root, pattern))
            if not hidden(path) and not isdir(path)
        }
    )

    def identity(path: str) -> tuple[str, int, str]:
        data = read(path)
        return path[len(root) :].lstrip("/"), len(data), hashlib.sha256(data).hexdigest()

    with ThreadPoolExecutor(max_workers=threads) as pool:
        files = list(pool.map(identity, paths))
    return TrainingInput(tuple(selection.names), fingerprint(files), len(files))
