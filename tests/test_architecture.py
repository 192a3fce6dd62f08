"""The engine's layout is a rule, not a habit: read the import graph (every import, those inside
functions and under TYPE_CHECKING included) and check it. README, "Architecture", explains.

Each check returns its findings (empty: the code keeps the rule), so the tests below also show
that each check catches the mistake it is there for, on a graph with that mistake added."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

from conftest import REPO

PACKAGE = REPO / "src" / "dlexec"
# Stages bottom to top: a module imports from its own stage or the ones below, never above.
# "" is the base (errors, config, files, progress...), importable by every stage.
STAGES = (
    "",
    "sources",
    "store",
    "capture",
    "run",
    "build",
    "present",
    "checks",
    "tools",
    "adapter",
)
ENTRY_POINTS = {"dlexec.__main__"}  # `python -m dlexec` runs the CLI, a tool
FRAMEWORKS = ("mkdocs", "material", "mkdocs_jupyter")  # only the adapter knows the generator
ENGINE = "dlexec.build.engine"  # page content and checks read the report, never the engine
REPORT_READERS = ("dlexec.present", "dlexec.checks")

Graph = dict[str, set[str]]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, name: str) -> set[str]:
    """Every module `path` imports (dlexec modules by full name, others by top-level name)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*parent, *([base] if base else [])])
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}  # `from . import x`
    return found


def engine_graph(root: Path = PACKAGE) -> Graph:
    modules = {module_name(path): path for path in root.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        # `from .x import name` also yields `.x.name`: kept only when it is a module
        graph[name] = {
            target
            for target in imports(path, name)
            if target in modules or not target.startswith("dlexec")
        }
    return graph


def stage(module: str) -> int:
    parts = module.split(".")
    if len(parts) == 2 and parts[1] not in STAGES:  # dlexec.errors, dlexec.config, ...
        return 0
    return STAGES.index(parts[1]) if len(parts) > 1 else 0


def internal(graph: Graph) -> Iterable[tuple[str, str]]:
    for source, targets in graph.items():
        for target in targets:
            if target.startswith("dlexec") and target != source:
                yield source, target


def cycles(graph: Graph) -> list[list[str]]:
    """Each import cycle between modules, as the path that closes it."""
    found, state = [], {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in sorted(t for s, t in internal({module: graph.get(module, set())})):
            if state.get(target) == "open":
                found.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    return found


def upward(graph: Graph) -> list[str]:
    """Imports from a stage above the importer's (package __init__ files import nothing)."""
    return [
        f"{source} -> {target}"
        for source, target in internal(graph)
        if source not in ENTRY_POINTS and stage(target) > stage(source)
    ]


def framework_imports(graph: Graph) -> list[str]:
    return [
        f"{source} -> {target}"
        for source, targets in graph.items()
        for target in targets
        if target.split(".")[0] in FRAMEWORKS and not source.startswith("dlexec.adapter")
    ]


def engine_readers(graph: Graph) -> list[str]:
    return [
        f"{source} -> {target}"
        for source, target in internal(graph)
        if source.startswith(REPORT_READERS) and target == ENGINE
    ]


GRAPH = engine_graph()
CHECKS = (cycles, upward, framework_imports, engine_readers)


def test_every_module_is_in_a_stage():
    assert {module.split(".")[1] for module in GRAPH if module.count(".") >= 2} <= set(STAGES)
    assert len(GRAPH) > 50  # the walk found the engine


def test_the_engine_keeps_its_rules():
    findings = {check.__name__: check(GRAPH) for check in CHECKS}
    assert findings == {check.__name__: [] for check in CHECKS}


def with_import(source: str, target: str) -> Graph:
    graph = {module: set(targets) for module, targets in GRAPH.items()}
    graph[source].add(target)
    return graph


def test_each_rule_catches_what_it_is_for():
    assert cycles(with_import("dlexec.store.results", "dlexec.build.report"))
    assert cycles(with_import("dlexec.store.keys", "dlexec.sources.snippets")) == []  # no cycle
    assert upward(with_import("dlexec.sources.posts", "dlexec.store.results"))
    assert upward(with_import("dlexec.run.kernel", "dlexec.build.report"))  # below the engine
    assert framework_imports(with_import("dlexec.present.page", "mkdocs.plugins"))
    assert framework_imports(with_import("dlexec.adapter.page_cache", "mkdocs.plugins")) == []
    assert engine_readers(with_import("dlexec.present.notebooks", ENGINE))
    assert engine_readers(with_import("dlexec.present.notebooks", "dlexec.build.report")) == []


def test_the_hooks_only_wire_events():
    """hooks/ may import MkDocs and the engine; the engine never imports hooks."""
    assert not [m for m, targets in GRAPH.items() for t in targets if t.startswith("hooks")]


# Sizes that keep a module, a class and a function readable in one sitting.
LIMITS = {"module": 400, "class": 200, "function": 60}


def oversized(root: Path = PACKAGE) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        text = path.read_text()
        name = module_name(path)
        if len(text.splitlines()) > LIMITS["module"]:
            found.append(f"module {name}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            kind = "class" if isinstance(node, ast.ClassDef) else "function"
            if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > LIMITS[kind]:
                    found.append(f"{kind} {name}.{node.name}: {length} lines")
    return found


def test_no_module_class_or_function_outgrows_its_limit():
    assert oversized() == []
