"""`python -m bench.example_run`: the example outputs the docs show, from one scripted run, so they cannot drift.

Writes the photo set (`demo-data --dataset photos`), runs `mobilenet-pipeline run` on it with the defaults (the
photo recipe at 224 px) and `registry pull`, then writes `docs/example-run.md` (the commands, the terminal's
summary, the run-home and registry trees, the pull) and the README's block between its `example-run` markers.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pipeline.config import REPO_ROOT

DOC = REPO_ROOT / "docs" / "example-run.md"
README = REPO_ROOT / "README.md"
START, END = "<!-- example-run:start -->", "<!-- example-run:end -->"
TREE_DEPTH = 3
CLI = ".venv/bin/mobilenet-pipeline"
"""The command as a user runs it after `make setup`, from the project's folder."""


def _tree(root: Path, depth: int = TREE_DEPTH, show_files: int = 4) -> list[str]:
    """A short `tree` of `root`: folders to `depth`, at most `show_files` files per folder."""
    lines = [f"{root.name}/"]

    def walk(folder: Path, prefix: str, level: int) -> None:
        entries = sorted(
            (path for path in folder.iterdir() if not path.name.startswith(".")),
            key=lambda path: (path.is_file(), path.name),
        )
        folders = [entry for entry in entries if entry.is_dir()]
        files = [entry for entry in entries if entry.is_file()]
        for entry in folders:
            lines.append(f"{prefix}{entry.name}/")
            if level < depth:
                walk(entry, prefix + "  ", level + 1)
        for entry in files[:show_files]:
            lines.append(f"{prefix}{entry.name}")
        if len(files) > show_files:
            lines.append(f"{prefix}... ({len(files) - show_files} more files)")

    walk(root, "  ", 1)
    return lines


def _summary(stdout: str) -> str:
    """The end of a run's terminal output: from the timing table on."""
    lines = stdout.splitlines()
    start = next((index for index, line in enumerate(lines) if line.startswith("component ")), 0)
    return "\n".join(lines[start:])


def _relative(text: str, workdir: Path) -> str:
    return text.replace(str(workdir) + "/", "").replace(str(workdir), ".")


def run(workdir: Path, per_class: int, overrides: list[str]) -> dict[str, str]:
    """The scripted run in `workdir`; its outputs as text."""
    command = [str(Path(sys.executable).parent / "mobilenet-pipeline")]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    subprocess.run(
        [*command, "demo-data", "photos", "--dataset", "photos", "--per-class", str(per_class)],
        cwd=workdir,
        check=True,
        capture_output=True,
        env=env,
    )
    images = sum(1 for path in (workdir / "photos").rglob("*") if path.is_file())
    sets = [arg for override in overrides for arg in ("--set", override)]
    started = time.monotonic()
    result = subprocess.run(
        [*command, "run", "--data", "photos", *sets], cwd=workdir, capture_output=True, text=True, env=env, check=False
    )
    seconds = time.monotonic() - started
    if result.returncode != 0:
        raise RuntimeError(f"the example run failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    pulled = subprocess.run(
        [*command, "registry", "pull", "mobilenet_v1", "--version", "1", "--to", "app-assets"],
        cwd=workdir,
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return {
        "images": str(images),
        "cpus": str(os.cpu_count()),
        "seconds": f"{seconds:.0f}",
        "overrides": " ".join(sets),
        "summary": _relative(_summary(result.stdout), workdir),
        "home": "\n".join(_tree(workdir / "runs", depth=2)),
        "registry": "\n".join(_tree(workdir / "registry")),
        "pull": _relative(pulled.stdout.strip(), workdir),
    }


def document(outputs: dict[str, str], per_class: int) -> tuple[str, str]:
    """docs/example-run.md and the README's block."""
    run_line = f"{CLI} run --data photos {outputs['overrides']}".strip()
    per_thousand = int(outputs["seconds"]) / int(outputs["images"]) * 1000 / 60
    block = "\n".join(
        [
            f"On {outputs['images']} photos (`{CLI} demo-data photos --dataset photos --per-class {per_class}`), "
            f"`{run_line}` took {outputs['seconds']} s on this machine ({outputs['cpus']} CPU cores, no GPU; about "
            f"{per_thousand:.0f} minutes per 1,000 photos) and ended with (paths relative to the folder it ran in):",
            "",
            "```",
            outputs["summary"],
            "```",
            "",
        ]
    )
    doc = "\n".join(
        [
            "# An example run",
            "",
            "Written by `python -m bench.example_run` from one run; the README's example is the same run.",
            "",
            "```sh",
            f"{CLI} demo-data photos --dataset photos --per-class {per_class}",
            run_line,
            f"{CLI} registry pull mobilenet_v1 --version 1 --to app-assets",
            "```",
            "",
            block,
            "The run home (`pipeline.home`):",
            "",
            "```",
            outputs["home"],
            "```",
            "",
            "The registry (`registry.root`):",
            "",
            "```",
            outputs["registry"],
            "```",
            "",
            "`registry pull`:",
            "",
            "```",
            outputs["pull"],
            "```",
            "",
        ]
    )
    return doc, block


def write(doc: str, block: str) -> None:
    """docs/example-run.md, and the README's block between its markers."""
    DOC.write_text(doc, encoding="utf-8")
    text = README.read_text(encoding="utf-8")
    if START in text and END in text:
        before, rest = text.split(START, 1)
        _, after = rest.split(END, 1)
        README.write_text(f"{before}{START}\n{block}{END}{after}", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.example_run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-class", type=int, default=160, help="photos per class (6 classes; default 160)")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="config override of the run (repeatable)",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="example-run-") as scratch:
        outputs = run(Path(scratch), args.per_class, args.overrides)
    write(*document(outputs, args.per_class))
    sys.stdout.write(f"wrote {DOC} and the README's example ({outputs['seconds']} s run)\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
