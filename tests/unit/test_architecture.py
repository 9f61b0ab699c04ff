"""The import graph keeps the layers of docs/architecture.md: no cycle, nothing upward."""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
PACKAGE = "mlflow_gitlab"
# MLflow's plugins are built by MLflow, and only they import it.
MLFLOW_IMPORTERS = {"mlflow_gitlab.plugin", "mlflow_gitlab.relay.store_plugin",
                    "mlflow_gitlab.relay.journal_store"}


@cache
def modules() -> dict[str, Path]:
    found = {}
    for path in (SRC / PACKAGE).rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _resolve(name: str) -> str:
    while name not in modules() and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def imported(module: str) -> set[str]:
    """Every module `module` imports: at module level, in functions, under TYPE_CHECKING."""
    path = modules()[module]
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.add(full if full in modules() else base)
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant)):
            found.add(node.args[0].value)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "import_module":
            found.add(f"{module}.*")  # a computed name: its own submodules, by convention
    return found


def own_imports(module: str) -> set[str]:
    names = {_resolve(name) for name in imported(module) if name.startswith(PACKAGE)}
    names.discard(module)
    return names


def layer_of() -> dict[str, int]:
    table = (ROOT / "docs" / "architecture.md").read_text().split("## Layers", 1)[1]
    layers = {}
    for number, names in re.findall(r"^\| (\d+) \| (.+) \|$", table, re.MULTILINE):
        for name in re.findall(r"`([\w.]+)`", names):
            layers[name] = int(number)
    return layers


def top(module: str) -> str:
    return module.split(".")[1] if "." in module else module


def test_every_top_level_package_has_a_layer():
    assert {top(m) for m in modules()} - set(layer_of()) == set()


def test_no_module_imports_a_higher_layer_or_another_package_of_its_own():
    layers, wrong = layer_of(), []
    for module in modules():
        for target in own_imports(module):
            here, there = top(module), top(target)
            if here != there and layers[there] >= layers[here]:
                wrong.append(f"{module} -> {target}")
    assert wrong == []


def test_the_sandbox_depends_on_errors_and_the_server_core_only_and_only_the_cli_imports_it():
    allowed = {f"{PACKAGE}.errors", f"{PACKAGE}.http.server"}
    outside = sorted(f"{m} -> {t}" for m in modules() if top(m) == "sandbox"
                     for t in own_imports(m) if top(t) != "sandbox" and t not in allowed)
    users = sorted(m for m in modules() if top(m) not in ("sandbox", "cli")
                   and any(top(t) == "sandbox" for t in own_imports(m)))
    assert (outside, users) == ([], [])


def test_there_is_no_import_cycle():
    graph = {m: own_imports(m) for m in modules()}
    cycles, state = [], {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join([*path[path.index(nxt):], nxt]))
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_only_the_plugins_import_mlflow():
    importers = {m for m in modules() if any(name == "mlflow" or name.startswith("mlflow.")
                                             for name in imported(m))}
    assert importers <= MLFLOW_IMPORTERS


@pytest.mark.parametrize("module", sorted(modules()))
def test_importing_a_module_writes_no_environment_variable(module):
    tree = ast.parse(modules()[module].read_text())
    for node in tree.body:  # module level only: functions run when called
        for sub in ast.walk(node):
            if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                break
            text = ast.unparse(sub) if isinstance(sub, (ast.Assign, ast.Expr)) else ""
            assert not re.search(r"environ(\[|\.setdefault|\.update)|putenv", text), text


SANDBOX = f"{PACKAGE}.sandbox"
_SQL = re.compile(r"\.(execute|executemany|all|one)\(\s*f?[\"'](SELECT|INSERT|UPDATE|DELETE)",
                  re.IGNORECASE)


def test_the_sandboxs_routes_and_pages_reach_state_only_through_its_backend():
    http_side = [m for m in modules()
                 if m.startswith((f"{SANDBOX}.routes", f"{SANDBOX}.pages"))]
    assert http_side
    with_sql = sorted(m for m in http_side if _SQL.search(modules()[m].read_text()))
    assert with_sql == [], "SQL outside sandbox/backend"
    http = tuple(f"{SANDBOX}.{name}" for name in ("routes", "pages", "web", "app", "router",
                                                  "httpd", "server", "auth"))
    backend_up = sorted(f"{m} -> {t}" for m in modules() if m.startswith(f"{SANDBOX}.backend")
                        for t in own_imports(m) if t.startswith(http))
    assert backend_up == [], "the backend knows no HTTP"
