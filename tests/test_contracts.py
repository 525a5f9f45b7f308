"""The layering ARCHITECTURE.md describes: one owner per shared name, and imports that run one way."""

from __future__ import annotations

import ast
import functools
import re
import subprocess
import sys
from pathlib import Path

import pytest

from components import contracts
from pipeline.config import REPO_ROOT

PRODUCT_PACKAGES = ("components", "pipeline", "kubeflow", "bench")
# Values distinctive enough to find by text ("label" is also an ordinary word and keyword argument).
OWNED_VALUES = {
    value: name
    for name, value in vars(contracts).items()
    if name.isupper() and isinstance(value, str) and any(mark in value for mark in "._")
}


def _sources(*packages: str) -> list[Path]:
    found = sorted(path for package in packages for path in (REPO_ROOT / package).rglob("*.py"))
    assert len(found) > 5 * len(packages), f"only {len(found)} Python files under {packages} in {REPO_ROOT}"
    return found


def _imported_modules(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _imports_of(package: str, targets: tuple[str, ...]) -> list[str]:
    return [
        f"{path.relative_to(REPO_ROOT)} imports {module}"
        for path in _sources(package)
        for module in _imported_modules(path)
        if module.split(".")[0] in targets
    ]


@functools.lru_cache(maxsize=None)
def _string_literals(path: Path) -> list[tuple[int, str]]:
    """(line, value) of every string constant that is not a docstring."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


def _spelled_outside_contracts(value: str) -> list[str]:
    """`file:line` of every product string literal equal to `value`, but in contracts.py."""
    return [
        f"{path.relative_to(REPO_ROOT)}:{line}"
        for path in _sources(*PRODUCT_PACKAGES)
        if path.name != "contracts.py"
        for line, text in _string_literals(path)
        if text == value
    ]


def test_components_import_neither_the_pipeline_nor_kubeflow():
    assert _imports_of("components", ("pipeline", "kubeflow")) == []


def test_only_the_command_line_front_door_of_the_pipeline_reaches_into_kubeflow():
    offending = [line for line in _imports_of("pipeline", ("kubeflow",)) if not line.startswith("pipeline/cli.py ")]
    assert offending == []
    assert _imports_of("pipeline", ("bench",)) == []
    assert any(line.startswith("pipeline/cli.py ") for line in _imports_of("pipeline", ("kubeflow",)))


def test_kubeflow_and_the_benchmark_build_on_the_pipeline_and_nothing_builds_on_the_benchmark():
    assert _imports_of("kubeflow", ("pipeline",)) != [] and _imports_of("bench", ("pipeline",)) != []
    assert _imports_of("kubeflow", ("bench",)) == [] and _imports_of("components", ("bench",)) == []
    assert _imports_of("bench", ("tests",)) == []
    assert {line.split()[0] for line in _imports_of("bench", ("kubeflow",))} <= {"bench/pod_sizes.py"}


@pytest.mark.parametrize("value", sorted(OWNED_VALUES))
def test_a_contract_value_is_spelled_only_by_its_owner(value):
    assert _spelled_outside_contracts(value) == [], f"{value!r} is contracts.{OWNED_VALUES[value]}; import it instead"


def test_urls_are_recognised_in_one_place():
    assert _spelled_outside_contracts("://") == []
    assert contracts.is_remote("gs://bucket/registry") and not contracts.is_remote("/data/registry")


def test_the_contracts_module_loads_without_tensorflow():
    code = "import sys, components.contracts; print(sorted(m for m in ('tensorflow', 'tfx') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, check=True)
    assert result.stdout.strip() == "[]"


OWNED_SEQUENCES = {
    name: value for name, value in vars(contracts).items() if name.isupper() and isinstance(value, tuple)
}


def _sequence_literals(path: Path) -> list[tuple[int, tuple]]:
    """(line, value) of every tuple or list literal of constants."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, (ast.Tuple, ast.List))
            and node.elts
            and all(isinstance(element, ast.Constant) for element in node.elts)
        ):
            found.append((node.lineno, tuple(element.value for element in node.elts)))
    return found


@pytest.mark.parametrize("name", sorted(OWNED_SEQUENCES))
def test_a_contract_list_is_written_only_by_its_owner(name):
    """The quantization modes, the architectures and each one's widths: one literal, in contracts.py."""
    spelled = [
        f"{path.relative_to(REPO_ROOT)}:{line}"
        for path in _sources(*PRODUCT_PACKAGES)
        if path.name != "contracts.py"
        for line, value in _sequence_literals(path)
        if value == OWNED_SEQUENCES[name]
    ]
    assert spelled == [], f"{OWNED_SEQUENCES[name]} is contracts.{name}; import it instead"


def test_the_plain_script_imports_no_tfx_beam_tf_transform_or_ml_metadata():
    """The benchmark's baseline is timed as "no TFX": it shares the network builders, the training loop and the
    image decoding with the pipeline, which must therefore be importable without those."""
    heavy = ("tfx", "tensorflow_transform", "apache_beam", "ml_metadata")
    code = f"import sys, bench.baseline; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, check=True)
    assert result.stdout.strip().splitlines()[-1] == "[]"


HISTORY = [
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        r"\bissue #?\d+",
        r"\bsession \d+",
        r"\btook \d",
        r"\d[\d.,]* ?(?:s|ms|min)\b ?(?:->|→)",
        r"\d[\d.,]* ?(?:s|ms|min|MB|GB)\b[^.\n]{0,30}\b(?:with|against|instead of|before|after)\b[^.\n]{0,30}"
        r"\d[\d.,]* ?(?:s|ms|min|MB|GB)\b",
    )
]
"""How a story reads: an issue or session number, or a before/after figure (`5.3 s -> 0.1 s`, `3.7 s with dill
against 2.1 s`). Evidence goes in a test, a benchmark or CHANGELOG.md."""


def _comments_and_docstrings(path: Path) -> list[tuple[int, str]]:
    import io
    import tokenize

    text = path.read_text(encoding="utf-8")
    found = [
        (token.start[0], token.string)
        for token in tokenize.generate_tokens(io.StringIO(text).readline)
        if token.type == tokenize.COMMENT
    ]
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            docstring = ast.get_docstring(node, clean=False)
            if docstring:
                found.append((getattr(node, "lineno", 1), docstring))
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            found.append((node.lineno, node.value.value))  # attribute docstrings
    return found


def test_docstrings_and_comments_state_contracts_not_history():
    told = [
        f"{path.relative_to(REPO_ROOT)}:{line}: {pattern.search(text).group(0)!r}"
        for path in _sources("components", "pipeline", "kubeflow")
        for line, text in _comments_and_docstrings(path)
        for pattern in HISTORY
        if pattern.search(text)
    ]
    assert told == []


def test_the_trainer_and_the_tflite_step_import_each_other_one_way_only():
    """The TFLite step reads what the Trainer wrote; the Trainer never needs the TFLite step's code."""
    trainer_to_tflite = [
        f"{path.relative_to(REPO_ROOT)} imports {module}"
        for path in _sources("components")
        if "components/trainer/" in path.as_posix()
        for module in _imported_modules(path)
        if module.startswith("components.tflite")
    ]
    tflite_to_trainer = [
        f"{path.relative_to(REPO_ROOT)} imports {module}"
        for path in _sources("components")
        if "components/tflite/" in path.as_posix()
        for module in _imported_modules(path)
        if module.startswith("components.trainer")
    ]
    assert not (trainer_to_tflite and tflite_to_trainer), (trainer_to_tflite, tflite_to_trainer)
