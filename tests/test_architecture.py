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
