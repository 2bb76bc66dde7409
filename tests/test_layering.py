"""Packages import downward only (docs/architecture.md, "Layers").

Every module of every package is parsed with `ast`; each import (at module level, inside a
function, under TYPE_CHECKING, relative ones resolved) is mapped to the layer it reaches. A
package may import its own modules and those of layers below it, never a layer above it nor a
sibling on its own level. Test modules (`test_*.py`, `conftest.py`) are exempt wherever they
live, like tests/ and benchmarks/.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent

# Unit (a package, or a sub-package standing on its own) -> its level, bottom first.
LAYERS: dict[str, int] = {
    "system_under_test": 0,  # the system under test: a program of its own
    "chaos.toxiproxy": 0,  # the embedded Toxiproxy-compatible server: a program of its own
    "harness": 1,  # the core
    "chaos": 2,
    "contracts": 2,
    "load": 2,
    "scenarios": 3,  # game days
    "faultline": 4,  # the entry points: command line and pytest plugin
}
UNRESTRICTED = {"tests", "benchmarks"}


@dataclass(frozen=True)
class Violation:
    path: str
    line: int
    importer: str
    imported: str

    def __str__(self) -> str:
        return (
            f"{self.path}:{self.line}: {_unit(self.importer)} (level "
            f"{LAYERS[_unit(self.importer)]}) imports {self.imported} "
            f"({_unit(self.imported)}, level {LAYERS[_unit(self.imported)]})"
        )


def _unit(module: str) -> str:
    """The longest unit that `module` belongs to ('' for anything outside faultline)."""
    parts = module.split(".")
    for size in range(len(parts), 0, -1):
        name = ".".join(parts[:size])
        if name in LAYERS:
            return name
    return ""


def _module_name(path: Path, root: Path) -> tuple[str, str]:
    """(module, package) of a source file, e.g. harness/audit/__init__.py -> both harness.audit."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
        return ".".join(parts), ".".join(parts)
    return ".".join(parts), ".".join(parts[:-1])


def _imports(tree: ast.AST, package: str) -> list[tuple[int, str]]:
    """(line, dotted name) of everything a module imports, relative imports resolved."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            # `from chaos import toxiproxy` reaches chaos.toxiproxy, not just chaos.
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append((node.lineno, node.args[0].value))
    return found


def _is_test_module(path: Path) -> bool:
    return path.name == "conftest.py" or path.name.startswith("test_")


def violations(root: Path) -> list[Violation]:
    """Every import in `root`'s packages that reaches a layer above or beside its own."""
    found: list[Violation] = []
    for top in sorted({name.split(".")[0] for name in LAYERS}):
        for path in sorted((root / top).rglob("*.py")):
            if _is_test_module(path):
                continue
            module, package = _module_name(path, root)
            own = _unit(module)
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            for line, imported in _imports(tree, package):
                target = _unit(imported)
                if not target or target == own or LAYERS[target] < LAYERS[own]:
                    continue
                found.append(Violation(str(path.relative_to(root)), line, module, imported))
    return found


def test_packages_import_downward_only():
    found = violations(ROOT)
    assert not found, "imports against the layering:\n" + "\n".join(map(str, found))


def test_every_package_has_a_layer():
    packages = {
        p.parent.name
        for p in ROOT.glob("*/__init__.py")
        if p.parent.name not in UNRESTRICTED and not p.parent.name.startswith(".")
    }
    assert packages <= set(LAYERS), f"give these a layer in LAYERS: {packages - set(LAYERS)}"


# -- the checker itself, on a tree made for it ---------------------------------------------------


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for top in {name.split(".")[0] for name in LAYERS}:
        (root / top).mkdir(exist_ok=True)
    return root


def test_the_checker_names_file_line_and_import_of_each_kind_of_violation(tmp_path):
    root = _tree(
        tmp_path,
        {
            "harness/__init__.py": "",
            "harness/stack.py": "import os\nfrom harness import errors\nimport chaos.faults\n",
            "harness/plugin.py": "def f():\n    from faultline.cli import main\n",
            "chaos/__init__.py": "",
            "chaos/faults.py": "from contracts import broker\nfrom harness import stack\n",
            "chaos/toxiproxy/__init__.py": "from . import server\nfrom ..faults import x\n",
            "chaos/toxiproxy/server.py": "from harness.errors import UserError\n",
            "system_under_test/app.py": "from chaos.toxiproxy import server\n",
            "contracts/test_cli.py": "from faultline.cli import main\n",  # a test: exempt
            "faultline/cli.py": "from chaos import toxiproxy\nfrom scenarios import run\n",
        },
    )
    assert sorted(map(str, violations(root))) == [
        "chaos/faults.py:1: chaos (level 2) imports contracts.broker (contracts, level 2)",
        "chaos/toxiproxy/__init__.py:2: chaos.toxiproxy (level 0) imports chaos.faults.x "
        "(chaos, level 2)",
        "chaos/toxiproxy/server.py:1: chaos.toxiproxy (level 0) imports harness.errors.UserError "
        "(harness, level 1)",
        "harness/plugin.py:2: harness (level 1) imports faultline.cli.main (faultline, level 4)",
        "harness/stack.py:3: harness (level 1) imports chaos.faults (chaos, level 2)",
        "system_under_test/app.py:1: system_under_test (level 0) imports chaos.toxiproxy.server "
        "(chaos.toxiproxy, level 0)",
    ]
