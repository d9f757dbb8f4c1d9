"""labkit's shape: no import cycles, nothing pointing up, a small learner's API.

The import graph is read from the source (every import statement, including
the ones inside functions and under TYPE_CHECKING: a lazy import still ties
two modules together). Each module sits on a layer; a module may import from
its own layer's package or from a lower layer, never from a higher one.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import labkit
from helpers import REPO

PACKAGE = REPO / "labkit"

# Bottom to top. A new module must be placed here: that is the architecture.
LAYERS: list[set[str]] = [
    {"labkit._diagnostics", "labkit._paths", "labkit._wasm", "labkit._files", "labkit._runbook"},
    {"labkit.errors", "labkit._cache"},
    {"labkit._wait", "labkit._ports", "labkit._http", "labkit.toolchain"},
    {"labkit.processes", "labkit._traffic", "labkit._extension", "labkit._gotools"},
    {"labkit._httpbin"},
    {"labkit.envoy"},
    {"labkit.kube"},
    {"labkit.istio"},
    {"labkit.exercises", "labkit._doctor", "labkit._notebook"},
    {"labkit._cli", "labkit"},
    {"labkit.__main__"},
]


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The labkit modules ``name`` imports, anywhere in its source."""
    is_package = path.name == "__init__.py"
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        targets = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            targets = [module] + [f"{module}.{a.name}" for a in node.names]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target.startswith("labkit") and target != name:
                out.add(target)
    return out


def graph() -> dict[str, set[str]]:
    found = modules()
    return {name: imports_of(name, path, set(found)) for name, path in found.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while (w := stack.pop()) != v:
                group.append(w)
            if group:
                groups.append(sorted([v, *group]))

    for v in edges:
        if v not in index:
            visit(v)
    return groups


def layer(module: str) -> tuple[int, str]:
    """(layer number, the entry it belongs to): a subpackage's modules share its entry."""
    for number, names in enumerate(LAYERS):
        for entry in names:
            if module == entry or (entry != "labkit" and module.startswith(entry + ".")):
                return number, entry
    raise AssertionError(f"{module} is on no layer: add it to LAYERS in {__file__}")


def test_no_import_cycles():
    found = cycles(graph())
    assert not found, "import cycles in labkit:\n" + "\n".join(" ⇄ ".join(c) for c in found)


def test_no_module_imports_a_higher_layer():
    wrong = []
    for module, targets in graph().items():
        here, entry = layer(module)
        for target in targets:
            there, target_entry = layer(target)
            if there > here or (there == here and target_entry != entry):
                wrong.append(f"{module} (layer {here}) imports {target} (layer {there})")
    assert not wrong, "\n".join(sorted(wrong))


def test_the_checks_above_can_fail():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
    assert layer("labkit.envoy.reload")[0] > layer("labkit.processes")[0]


def test_the_learners_api_is_small_and_complete():
    names = set(labkit.__all__)
    assert 20 <= len(names) <= 30, len(names)
    for name in names:
        assert hasattr(labkit, name), name
    # What the notebooks call is all there.
    used = set()
    for path in (REPO / "notebooks").glob("*.ipynb"):
        used |= set(re.findall(r"\blabkit\.([A-Za-z_]\w*)", path.read_text()))
    subpackages = {"envoy", "kube", "processes", "toolchain", "errors", "exercises", "istio",
                   "widgets"}
    missing = sorted(n for n in used - subpackages if not hasattr(labkit, n))
    assert not missing, f"notebooks use names labkit does not offer: {missing}"


def test_importing_labkit_needs_no_mesh_extra():
    """`kubernetes` and `cryptography` are an extra: a plain install must import."""
    import subprocess
    import sys

    blocker = ("import sys\n"
               "class Block:\n"
               "    def find_spec(self, name, path=None, target=None):\n"
               "        if name.split('.')[0] in ('kubernetes', 'cryptography'):\n"
               "            raise ImportError(name + ' is not installed')\n"
               "sys.meta_path.insert(0, Block())\n"
               "import labkit\n"
               "from labkit.errors import ToolchainError\n"
               "try:\n"
               "    labkit.kube.Kube('/nonexistent')\n"
               "except ToolchainError as e:\n"
               "    print('mesh:', e.fix)\n")
    out = subprocess.run([sys.executable, "-c", blocker], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "pip install 'labkit[mesh]'" in out.stdout
