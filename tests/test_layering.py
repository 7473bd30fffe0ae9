"""The import layering of STYLE.md: data -> models -> module -> configs/prediction -> fit -> facade -> command line.

No module imports one from a layer above its own (lazy imports inside functions included), and the module-level
imports form no cycle. Data code never imports the nets; nets never import pandas, Lightning or the data layer.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "tsbridge"
# Lowest first; a module may import its own layer and those below it.
LAYERS = [
    ("tsbridge", "tsbridge.errors", "tsbridge.quiet"),
    ("tsbridge.data",),
    ("tsbridge.models",),
    ("tsbridge.metrics", "tsbridge.schedulers", "tsbridge.calibration"),
    ("tsbridge.module",),
    ("tsbridge.config", "tsbridge.overrides"),
    ("tsbridge.persistence",),
    ("tsbridge.predictor",),
    ("tsbridge.plotting",),
    ("tsbridge.callbacks",),
    ("tsbridge.fitting",),
    ("tsbridge.forecaster",),
    ("tsbridge.cli",),
]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(name: str) -> int:
    """The layer of a module: the longest matching prefix wins (``tsbridge.data.frames`` is in ``tsbridge.data``)."""
    best = max((prefix for group in LAYERS for prefix in group if name == prefix or name.startswith(prefix + ".")),
               key=len)
    return next(i for i, group in enumerate(LAYERS) if best in group)


def _is_type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def imports(path: Path) -> tuple[set[str], set[str]]:
    """tsbridge modules imported by ``path``: (at module level, anywhere), leaving out ``if TYPE_CHECKING``."""
    tree = ast.parse(path.read_text())
    top, anywhere = set(), set()

    def visit(node: ast.AST, at_top: bool) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            return
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
            # ``from tsbridge import fitting`` imports the submodule tsbridge.fitting.
            names += [f"{node.module}.{a.name}" for a in node.names
                      if (PACKAGE.parent / f"{node.module}.{a.name}".replace(".", "/")).with_suffix(".py").exists()
                      or (PACKAGE.parent / f"{node.module}.{a.name}".replace(".", "/")).is_dir()]
        for name in names:
            if name.split(".")[0] == "tsbridge":
                anywhere.add(name)
                if at_top:
                    top.add(name)
        inside = at_top and not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        for child in ast.iter_child_nodes(node):
            visit(child, inside)

    visit(tree, True)
    return top, anywhere


SOURCES = {module_name(path): path for path in PACKAGE.rglob("*.py") if "conf" not in path.parts}


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_no_module_imports_one_above_it(name):
    _, anywhere = imports(SOURCES[name])
    above = sorted(target for target in anywhere if layer(target) > layer(name))
    assert not above, f"{name} (layer {layer(name)}) imports {above} from a higher layer"


def test_module_level_imports_form_no_cycle():
    graph = {name: {t for t in imports(path)[0] if t in SOURCES and t != name} for name, path in SOURCES.items()}
    # A package's __init__ re-exports its modules: an edge into a package stands for the modules it imports.
    visiting, done = [], set()

    def walk(node: str) -> None:
        if node in done:
            return
        assert node not in visiting, "import cycle: " + " -> ".join([*visiting[visiting.index(node):], node])
        visiting.append(node)
        for target in graph[node]:
            if not (node.startswith(target + ".")):  # a submodule reading its own package's __init__ is no cycle
                walk(target)
        visiting.pop()
        done.add(node)

    for name in sorted(graph):
        walk(name)


@pytest.mark.parametrize(("package", "forbidden"), [
    ("tsbridge.data", ("tsbridge.models", "tsbridge.module")),
    ("tsbridge.models", ("pandas", "lightning", "tsbridge.data")),
])
def test_layer_specific_bans(package, forbidden):
    for name, path in SOURCES.items():
        if name == package or name.startswith(package + "."):
            source = path.read_text()
            for banned in forbidden:
                assert f"import {banned}" not in source and f"from {banned}" not in source, (name, banned)
