"""The house plan of README's Layout section, checked on the source: which module may import which,
``sr_lib`` never importing ``faceswap_lib``, and no module reaching into another's private names.

Static (``ast``), so it reads every import, including the lazy ones inside functions.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("sr_lib", "faceswap_lib")

#: README "Layout": a module may import modules of its own rank or a lower one, never a higher one.
#: Within one rank the imports must still form no cycle (checked below).
SR_LIB_RANKS = [
    ("images", "console", "notebook"),  # the image core; quiet TensorFlow import; the run settings (mode, caps)
    ("files",),
    ("data",),
    ("layers", "flops"),
    ("models",),
    ("losses", "perceptual", "lpips"),
    ("training",),
    ("metrics", "sharpness"),
    ("tiling", "inference"),
    ("evaluation", "pretrained"),
    ("adaptive", "adaptive_eval"),
    ("viz",),
    ("cli", "__main__"),
]
RANK = {name: rank for rank, names in enumerate(SR_LIB_RANKS) for name in names}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _sources():
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            yield _module_name(path), path


MODULES = dict(_sources())


def _unit(name: str) -> str:
    """The Layout's unit of a module: ``sr_lib.data.io`` -> ``sr_lib.data``, ``sr_lib.cli`` -> itself."""
    return ".".join(name.split(".")[:2])


def _imports(name: str, path: Path):
    """(imported module, [names imported from it]) for every import statement, lazy ones included."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            names = [alias.name for alias in node.names]
            yield module, names
            for imported in names:  # "from sr_lib import images" imports the module sr_lib.images
                if f"{module}.{imported}" in MODULES:
                    yield f"{module}.{imported}", []


def _edges():
    edges = set()
    for name, path in MODULES.items():
        for module, _ in _imports(name, path):
            if module.split(".")[0] in PACKAGES and module not in PACKAGES:
                a, b = _unit(name), _unit(module)
                if a != b:
                    edges.add((a, b))
    return edges


EDGES = _edges()


def test_every_sr_lib_module_has_a_place_in_the_layout():
    units = {_unit(name) for name in MODULES if name.startswith("sr_lib.")}
    missing = sorted(u for u in units if u.split(".")[1] not in RANK)
    assert not missing, f"modules missing from SR_LIB_RANKS (and README's Layout): {missing}"


def test_sr_lib_imports_go_down_the_layout():
    upward = sorted(
        (a, b) for a, b in EDGES
        if a.startswith("sr_lib.") and b.startswith("sr_lib.") and RANK[a.split(".")[1]] < RANK[b.split(".")[1]]
    )
    assert not upward, f"imports against README's Layout order (importer, imported): {upward}"


def test_sr_lib_never_imports_faceswap_lib():
    assert not [(a, b) for a, b in EDGES if a.startswith("sr_lib") and b.startswith("faceswap_lib")]


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycles(package):
    graph = {}
    for a, b in EDGES:
        if a.startswith(package) and b.startswith(package):
            graph.setdefault(a, set()).add(b)
    state = {}

    def visit(node, trail):
        if state.get(node) == "done":
            return
        if state.get(node) == "open":
            raise AssertionError(f"import cycle: {' -> '.join(trail[trail.index(node):] + [node])}")
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            visit(nxt, trail + [node])
        state[node] = "done"

    for node in sorted(graph):
        visit(node, [])


def test_no_private_names_across_modules():
    """``from sr_lib.x import _helper`` or ``x._helper(...)`` couples a module to another's internals."""
    found = []
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(), str(path))
        aliases = {}
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    if isinstance(node, ast.Import):
                        module = alias.name
                    else:
                        base = name if path.name == "__init__.py" else name.rpartition(".")[0]
                        prefix = ".".join(base.split(".")[: len(base.split(".")) - node.level + 1]) if node.level else ""
                        parent = ".".join(p for p in (prefix, node.module or "") if p)
                        module = f"{parent}.{alias.name}"
                        if module not in MODULES:  # a name, not a module
                            if alias.name.startswith("_") and not alias.name.startswith("__") and parent in MODULES \
                                    and parent != name:
                                found.append(f"{path.relative_to(ROOT)}: from {parent} import {alias.name}")
                            continue
                    if module in MODULES and module != name:
                        aliases[alias.asname or alias.name.split(".")[-1]] = module
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases \
                    and node.attr.startswith("_") and not node.attr.startswith("__"):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {aliases[node.value.id]}.{node.attr}")
    assert not found, "private names used across modules:\n" + "\n".join(sorted(set(found)))
