"""The package's layout is the pipeline: every import points down it, and no modules import in a circle.

A module may import from its own layer or the layers before it; LAYERS is the pipeline's order
(reading -> parsing -> segmenting -> the index -> diagnosis -> ... -> the command line). Imports
inside functions and under TYPE_CHECKING count too: they are dependencies all the same.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

from .conftest import ROOT

PACKAGE = ROOT / "src" / "comfylog"

#: The pipeline's stages, in order; a module is in the layer of its first name under comfylog.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("version", "text", "lazyre", "dataclass", "gcpolicy", "spool", "events"),
    ("model",),
    ("read",),
    ("parse", "engines"),
    ("segment",),
    ("index",),
    ("diagnose",),
    ("pipeline",),
    ("rows",),
    ("compare", "check", "fleet", "export"),
    ("render",),
    ("watch",),
    ("api",),
    ("__init__",),
    ("cli", "commands", "__main__"),
)
LAYER_OF = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The comfylog modules ``path`` imports (relative imports resolved, ``from X import module`` too)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("comfylog")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            elif node.module and node.module.startswith("comfylog"):
                target = node.module
            else:
                continue
            submodules = {f"{target}.{alias.name}" for alias in node.names} & known
            found |= submodules or {target}
    return found & known - {name}


def layer(name: str) -> int:
    parts = name.split(".")
    return LAYER_OF["__init__" if len(parts) == 1 else parts[1]]


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    found = modules()
    return {name: imports_of(name, path, set(found)) for name, path in found.items()}


def test_every_module_has_a_layer(graph: dict[str, set[str]]) -> None:
    for name in graph:
        parts = name.split(".")
        assert len(parts) == 1 or parts[1] in LAYER_OF, f"{name}: add its stage to LAYERS in {Path(__file__).name}"


def test_every_import_points_down_the_pipeline(graph: dict[str, set[str]]) -> None:
    upward = [f"{name} imports {target}" for name, targets in sorted(graph.items()) for target in sorted(targets)
              if layer(target) > layer(name)]
    assert not upward, "imports against the pipeline's order:\n" + "\n".join(upward)


def test_no_modules_import_in_a_circle(graph: dict[str, set[str]]) -> None:
    state: dict[str, int] = defaultdict(int)  # 0 new, 1 on the path, 2 done
    path: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = 1
        path.append(name)
        for target in sorted(graph[name]):
            if state[target] == 1:
                return path[path.index(target):] + [target]
            if state[target] == 0:
                found = visit(target)
                if found:
                    return found
        path.pop()
        state[name] = 2
        return None

    for name in sorted(graph):
        if state[name] == 0:
            circle = visit(name)
            assert circle is None, "import circle: " + " -> ".join(circle or [])


def test_the_checker_sees_imports_inside_functions_and_type_checking(graph: dict[str, set[str]]) -> None:
    """It would pass on nothing if it missed the imports it is meant to judge."""
    assert "comfylog.render.json" in graph["comfylog.commands"]  # imported inside a command's function
    assert "comfylog.compare" in graph["comfylog.render.html"]  # under TYPE_CHECKING
    assert "comfylog.diagnose.rules" in graph["comfylog.diagnose"]  # `from . import rules`
