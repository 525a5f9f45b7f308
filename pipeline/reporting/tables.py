"""The one renderer of the plain text tables the command line prints (runs, registry, Kubeflow runs, the bench)."""

from __future__ import annotations

from typing import Any, Sequence


def text_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], rule: bool = True) -> str:
    """Left-aligned columns separated by two spaces, with a line of dashes under the headers when `rule`."""
    cells = [[str(cell) for cell in row] for row in [headers, *rows]]
    widths = [max(len(row[column]) for row in cells) for column in range(len(headers))]
    if rule:
        cells.insert(1, ["-" * width for width in widths])
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in cells)
