"""The house rules, checked: arrows point down, and no module imports itself round a cycle.

The layers are declared once, here, lowest first. A module may import the standard library,
third-party packages, any module of a lower layer, and modules of its own package. The ground
floor's modules may import one another (without a cycle). Every import counts, including those
inside functions and under ``TYPE_CHECKING``: a cycle dodged at run time is still a cycle.
"""

from __future__ import annotations

import ast
import pathlib

import deconflict

#: Lowest first. Each entry is a layer: the top-level modules or packages of ``deconflict``.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("units", "errors", "names", "_util", "agreement", "geo", "json_text", "datadir", "data"),
    ("tactical",),
    ("airspace",),
    ("private",),
    ("io",),
    ("store",),
    ("api",),
    ("hotline",),
    ("service",),
    ("client",),
    ("replay",),
    ("sim",),
    ("report",),
    ("web",),
    ("cli",),
    ("__main__",),
)
GROUND = LAYERS[0]
ROOT = pathlib.Path(deconflict.__file__).parent
#: Not part of the layering: alembic's environment and revisions run under alembic.
EXCLUDED = ("store/migrations",)


def module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(["deconflict", *parts])


def all_modules() -> dict[str, pathlib.Path]:
    found = {}
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if any(rel.startswith(prefix) for prefix in EXCLUDED):
            continue
        found[module_name(path)] = path
    return found


def imports_of(path: pathlib.Path, known: dict[str, pathlib.Path]) -> set[str]:
    """The deconflict modules ``path`` imports (``from pkg import sub`` counts as ``pkg.sub``)."""
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names = [f"{base}.{alias.name}" for alias in node.names]
            names = [n if n in known else base for n in names]
        else:
            continue
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name.startswith("deconflict.") and name != me:
                out.add(name)
    return out


def graph() -> dict[str, set[str]]:
    known = all_modules()
    return {name: imports_of(path, known) for name, path in known.items()}


def top(module: str) -> str:
    return module.split(".")[1]


def layer_of(module: str) -> int:
    for i, layer in enumerate(LAYERS):
        if top(module) in layer:
            return i
    raise AssertionError(f"{module} belongs to no declared layer: add it to LAYERS")


def test_every_module_has_a_layer():
    for module in graph():
        if module != "deconflict":
            layer_of(module)


def wrong_imports(edges: dict[str, set[str]]) -> list[str]:
    """Every import from a higher layer, or from a sibling package of the same layer."""
    wrong = []
    for module, targets in edges.items():
        if module == "deconflict":  # the public API gathers from below; nothing imports it
            continue
        for target in targets:
            if target == "deconflict":
                wrong.append(f"{module} imports the public API package itself")
                continue
            mine, theirs = layer_of(module), layer_of(target)
            same_home = top(module) == top(target) or (mine == theirs == 0)
            if theirs > mine or (theirs == mine and not same_home):
                wrong.append(f"{module} (layer {mine}) imports {target} (layer {theirs})")
    return sorted(wrong)


def find_cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return cycles


def test_no_upward_or_sideways_import():
    wrong = wrong_imports(graph())
    assert not wrong, "\n".join(wrong)


def test_no_import_cycle():
    cycles = find_cycles(graph())
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_the_checker_sees_planted_faults():
    """The rules would catch an upward import, a sideways one and a cycle (not vacuous)."""
    planted = {
        "deconflict.tactical.detect": {"deconflict.service.engine", "deconflict.units"},
        "deconflict.hotline.relay": {"deconflict.service.auth"},
        "deconflict.store.sql": {"deconflict.store.migrate"},
        "deconflict.store.migrate": {"deconflict.store.models"},
        "deconflict.store.models": {"deconflict.store.sql"},
    }
    assert wrong_imports(planted) == [
        "deconflict.hotline.relay (layer 7) imports deconflict.service.auth (layer 8)",
        "deconflict.tactical.detect (layer 1) imports deconflict.service.engine (layer 8)",
    ]
    assert find_cycles(planted) == [
        ["deconflict.store.migrate", "deconflict.store.models", "deconflict.store.sql"]
    ]
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []
