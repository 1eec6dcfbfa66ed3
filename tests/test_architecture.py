"""The package's shape: layers without import cycles, modules under 500 lines, a light import."""

from __future__ import annotations

import ast
import subprocess
import sys
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import promptsearch

ROOT = Path(promptsearch.__file__).parent
MAX_LINES = 500


def _imports(path: Path) -> set[str]:
    """Modules imported anywhere in ``path`` (functions included), except under TYPE_CHECKING."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for child in node.body for n in ast.walk(child))
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return {m for m in found if m == "promptsearch" or m.startswith("promptsearch.")}


def _layer(module: str) -> str:
    """The subpackage a module belongs to; top-level modules form the ``core`` layer."""
    parts = module.split(".")
    if len(parts) == 1 or parts[1] == "__main__":
        return "root"
    return parts[1] if (ROOT / parts[1]).is_dir() else "core"


def package_graph() -> dict[str, set[str]]:
    """Subpackage -> the subpackages it imports (the lazy root namespace left out)."""
    graph: dict[str, set[str]] = {}
    for path in sorted(ROOT.rglob("*.py")):
        module = ".".join(("promptsearch", *path.relative_to(ROOT).with_suffix("").parts))
        module = module.removesuffix(".__init__")
        layer = _layer(module)
        if layer == "root":
            continue
        deps = {_layer(m) for m in _imports(path)} - {layer, "root"}
        graph.setdefault(layer, set()).update(deps)
    return graph


def test_no_import_cycle_between_packages() -> None:
    graph = package_graph()
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as exc:  # the message names the cycle
        raise AssertionError(f"import cycle between packages: {exc.args[1]}") from None
    assert order.index("core") < order.index("tasks") < order.index("backends") < order.index("engine")
    assert "cli" not in {d for deps in graph.values() for d in deps}  # nothing imports the CLI


def test_no_import_cycle_between_modules() -> None:
    modules: dict[str, set[str]] = {}
    for path in sorted(ROOT.rglob("*.py")):
        name = ".".join(("promptsearch", *path.relative_to(ROOT).with_suffix("").parts)).removesuffix(
            ".__init__"
        )
        modules[name] = _imports(path) - {name}
    # A module imports the package __init__ files above the module it names, as Python does.
    graph = {
        m: {
            d
            for dep in deps
            for d in _with_parents(dep)
            if d in modules and d != m and not m.startswith(d + ".")
        }
        for m, deps in modules.items()
        if m != "promptsearch"
    }
    graph = {m: {d for d in deps if d != "promptsearch"} for m, deps in graph.items()}
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as exc:
        raise AssertionError(f"import cycle between modules: {exc.args[1]}") from None


def _with_parents(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(2, len(parts) + 1)]


def test_modules_stay_small() -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for p in ROOT.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_import_stays_light() -> None:
    code = (
        "import sys, promptsearch, promptsearch.backends, promptsearch.space, promptsearch.metrics, "
        "promptsearch.tuning, promptsearch.generators, promptsearch.study, promptsearch.engine; "
        "print(sorted(m for m in ('torch', 'transformers', 'peft') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_trial_keys_are_read_through_the_codec_only() -> None:
    """Outside ``study/``, trial and study attributes are read by ``Attr``/``Param``/``StudyAttr``
    names, never by a string literal (one spelling per key)."""
    import re

    raw = re.compile(r"""(user_attrs|params|system_attrs)(\.get\(|\[)\s*["']""")
    found = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in ROOT.rglob("*.py")
        if path.relative_to(ROOT).parts[0] != "study"
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if raw.search(line)
    ]
    assert not found, f"raw trial keys (use promptsearch.study.Attr/Param/StudyAttr): {found}"


#: Where each kind of plugin is registered: its names may be written there only.
_REGISTERED_IN = {
    "backends": ("promptsearch.backends", "backends"),
    "generators": ("promptsearch.generators", "operators"),
    "tuning": ("promptsearch.tuning", "tuning_modes"),
    "demonstrations": ("promptsearch.demonstrations", "selections", "orders"),
    "study": ("promptsearch.study", "samplers", "pruners"),
    "metrics": ("promptsearch.metrics", "metrics"),
}
#: Files that may name plugins, and why.
_MAY_NAME_PLUGINS = {
    "tasks/_catalog.py": "the catalog is data: each packaged task names its metric",
}
#: Names that are also ordinary words or sentinels in other places ("none": no tuning, no
#: demonstrations, no pruner; "median": a statistic in reports).
_WORDS = {"none", "median"}


def _plugin_names() -> dict[str, set[str]]:
    """Registered name -> the subpackages that register it ("random": a sampler, a selection)."""
    import importlib

    owner: dict[str, set[str]] = {}
    for package, (module, *registries) in _REGISTERED_IN.items():
        loaded = importlib.import_module(module)
        for registry in registries:
            for name in getattr(loaded, registry).names():
                owner.setdefault(name, set()).add(package)
    return {n: p for n, p in owner.items() if n not in _WORDS}


def test_no_plugin_name_literal_outside_its_registration() -> None:
    """A plugin is one module plus one registration: no other code spells a registered name
    (defaults are constants exported by the registering package, e.g. ``DEFAULT_BACKEND``)."""
    owner = _plugin_names()
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        if rel.as_posix() in _MAY_NAME_PLUGINS:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and node.body
            and isinstance(node.body[0], ast.Expr)
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in docstrings
                and node.value in owner
                and rel.parts[0] not in owner[node.value]
            ):
                found.append(
                    f"{rel}:{node.lineno} {node.value!r} (registered in {sorted(owner[node.value])})"
                )
    assert not found, f"plugin names spelled outside their registration: {found}"


def test_optuna_internals_behind_one_adapter() -> None:
    """Optuna's private names are read in ``study/_optuna.py`` only (each checked by
    ``tests/study/test_optuna_adapter.py``); a storage subclass may override the private hook
    Optuna's cached storage calls (``study/_owned.py``)."""
    import re

    private = re.compile(
        r"(?<![\w.])(study|trial|storage)\._[a-z]\w*|optuna(\.\w+)*\._\w+|_CachedStorage|_stop_flag"
    )
    adapter = ROOT / "study" / "_optuna.py"
    found = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for path in ROOT.rglob("*.py")
        if path != adapter
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if private.search(line)
    ]
    assert not found, f"Optuna internals outside promptsearch/study/_optuna.py: {found}"
