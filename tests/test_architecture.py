"""The layers hold: composition > integrations > recordings > accounts > foundation.

pyproject.toml's import-linter contract says who may import whom (`make lint` runs it); these tests keep the
contract complete and add what it cannot say: no import cycles, and imports at the top of the module.
"""

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("caly", "accounts", "recordings", "integrations")
# Project code outside the packages: gunicorn's config (its hooks) and manage.py.
SCRIPTS = ("gunicorn.conf.py", "manage.py")

# Files whose functions may import: Django's and the servers' needs, never a way around a cycle.
# Any import inside a function is caught by the cycle test all the same (grimp counts it).
ALLOWED_FUNCTION_IMPORTS = {
    "caly/foundation/apps.py": "AppConfig.ready: signal receivers connect and Sentry / OpenTelemetry start "
    "once the app registry is ready, in every process",
    "accounts/apps.py": "AppConfig.ready: registers the OpenAPI authentication extension once apps are loaded",
    "recordings/apps.py": "AppConfig.ready: connects the missed-calls and agent-linking receivers to the Call and "
    "MemberPhone signals once models are loaded",
    "integrations/apps.py": "AppConfig.ready: connects the call linking receiver to recordings' call_saved, and "
    "outbound webhooks' receivers to call_changed and recording_changed, once models can be imported",
    "caly/foundation/observability.py": "Sentry and OpenTelemetry are optional and settings-dependent: imported "
    "only when their settings turn them on",
    "caly/foundation/adapters/opentelemetry.py": "OpenTelemetry is optional: imported only when tracing is configured",
    "caly/serve.py": "gunicorn reads WEB_CONCURRENCY while it is imported, so it is imported after the "
    "environment is validated",
    "gunicorn.conf.py": "gunicorn hooks: prometheus-client must be imported after PROMETHEUS_MULTIPROC_DIR is "
    "set, and the worker's warm-up runs after the application is loaded",
    "manage.py": "Django's manage.py: the settings module is chosen before Django's command line is imported",
}


def _composition_layer() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (layers,) = [c["layers"] for c in config["contracts"] if c["type"] == "layers"]
    top = layers[0]
    separator = ":" if ":" in top else "|"
    return [name.strip().strip("()") for name in top.split(separator)]


def _composition_modules() -> list[str]:
    """Every module of the caly package outside caly.foundation."""
    modules = []
    for path in sorted((ROOT / "caly").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[1] == "foundation" or parts == ("caly", "__init__"):
            continue
        modules.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return modules


def test_every_composition_module_is_in_the_contracts_top_layer():
    listed = _composition_layer()
    unlisted = [
        module
        for module in _composition_modules()
        if not any(module == name or module.startswith(name + ".") for name in listed)
    ]
    if unlisted:
        pytest.fail(
            "Modules of the composition (caly/ outside caly/foundation/) missing from the top layer of the layers "
            "contract in pyproject.toml ([tool.importlinter]); add each to that layer's list: " + ", ".join(unlisted),
            pytrace=False,
        )


def test_every_module_in_the_contracts_top_layer_exists():
    def exists(name: str) -> bool:
        path = ROOT.joinpath(*name.split("."))
        return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()

    missing = [name for name in _composition_layer() if not exists(name)]
    if missing:
        pytest.fail(
            f"The top layer in pyproject.toml lists modules that do not exist: {', '.join(missing)}", pytrace=False
        )


def _is_project_module(name: str) -> bool:
    parts = name.split(".")
    return "migrations" not in parts and "tests" not in parts


def _strongly_connected(graph: grimp.ImportGraph, modules: set[str]) -> list[list[str]]:
    """Tarjan's algorithm, iterative: the groups of modules that import each other, directly or not."""
    index: dict[str, int] = {}
    lowlink: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []

    def edges(module: str) -> list[str]:
        return sorted(graph.find_modules_directly_imported_by(module) & modules)

    for start in sorted(modules):
        if start in index:
            continue
        work = [(start, iter(edges(start)))]
        index[start] = lowlink[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            module, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = lowlink[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(edges(successor))))
                    break
                if successor in on_stack:
                    lowlink[module] = min(lowlink[module], index[successor])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    lowlink[parent] = min(lowlink[parent], lowlink[module])
                if lowlink[module] == index[module]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == module:
                            break
                    components.append(sorted(component))
    return components


def test_no_import_cycles_between_project_modules():
    # Imports inside functions count too: moving one into a function does not break a cycle.
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    modules = {name for name in graph.modules if _is_project_module(name)}
    cycles = [component for component in _strongly_connected(graph, modules) if len(component) > 1]
    if cycles:
        report = ["Modules that import each other (move a piece to the layer where it belongs):"]
        for component in cycles:
            report.append("cycle: " + ", ".join(component))
            for importer in component:
                for imported in sorted(graph.find_modules_directly_imported_by(importer) & set(component)):
                    details = graph.get_import_details(importer=importer, imported=imported)
                    lines = ", ".join(str(line) for line in sorted({d["line_number"] for d in details}))
                    report.append(f"  {importer} -> {imported} (l.{lines})")
        pytest.fail("\n".join(report), pytrace=False)


def _project_files() -> list[Path]:
    files = [ROOT / name for name in SCRIPTS]
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).parts
            if "migrations" not in parts and "tests" not in parts:
                files.append(path)
    return files


def _imported_name(node: ast.Import | ast.ImportFrom, path: Path) -> str:
    """`a.b` for `import a.b`, `a.b (c, d)` for `from a.b import c, d`, relative imports made absolute."""
    if isinstance(node, ast.Import):
        return ", ".join(alias.name for alias in node.names)
    module = node.module or ""
    if node.level:
        package = path.relative_to(ROOT).parent.parts
        base = ".".join(package[: len(package) - node.level + 1])
        module = f"{base}.{module}" if module else base
    return f"{module} ({', '.join(alias.name for alias in node.names)})"


def _function_imports(path: Path) -> list[tuple[int, str]]:
    found = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if in_function and isinstance(child, ast.Import | ast.ImportFrom):
                found.append((child.lineno, _imported_name(child, path)))
            visit(child, in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef))

    visit(ast.parse(path.read_text(), filename=str(path)), False)
    return found


def test_imports_inside_functions_only_where_allowed():
    offenders = []
    with_function_imports = set()
    for path in _project_files():
        relative = path.relative_to(ROOT).as_posix()
        imports = _function_imports(path)
        if imports:
            with_function_imports.add(relative)
        if relative not in ALLOWED_FUNCTION_IMPORTS:
            offenders += [f"{relative}:{line} {module}" for line, module in imports]
    if offenders:
        pytest.fail(
            "Imports go at the top of the module. Move these up; if one would make a cycle, a piece is in the "
            "wrong layer. (A need of Django's goes in ALLOWED_FUNCTION_IMPORTS with its reason.)\n"
            + "\n".join(offenders),
            pytrace=False,
        )
    stale = sorted(set(ALLOWED_FUNCTION_IMPORTS) - with_function_imports)
    assert not stale, f"ALLOWED_FUNCTION_IMPORTS lists files without imports inside functions; remove: {stale}"


def test_lint_imports_keeps_every_contract():
    result = subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--no-cache", "--no-logo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=20,
    )
    if result.returncode != 0:
        pytest.fail(result.stdout + result.stderr, pytrace=False)
