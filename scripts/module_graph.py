"""Print the package's import graph facts: cycles (there must be none), imports of the package
root from inside it (only the compiled `_core` may be reached that way), private names imported
across modules, and the longest files. Exits non-zero when any rule is broken.

    python scripts/module_graph.py            # run from the repository root

The layers themselves are checked by `lint-imports` (the contracts in pyproject.toml); this script
adds what those contracts cannot say.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "recipe_audit"
SOURCE = ROOT / "python" / PACKAGE


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative).

    The package root is left out: `import recipe_audit._core` reads as an import of the root (the
    compiled core is no module the graph sees), and `_import_problems` checks that nothing else
    imports the root."""

    def imported_by(module: str) -> list[str]:
        return sorted(graph.find_modules_directly_imported_by(module) - {PACKAGE})

    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph.modules - {PACKAGE}):
        if start in index:
            continue
        work = [(start, iter(imported_by(start)))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(imported_by(child))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SOURCE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _import_problems() -> list[str]:
    """Root-package imports other than `_core`, and private names taken from another module."""
    problems = []
    for path in sorted(SOURCE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        here = _module_name(path)
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom) or not node.module or not node.module.startswith(PACKAGE):
                continue
            for alias in node.names:
                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                if node.module == PACKAGE and alias.name not in ("_core", "__version__"):
                    problems.append(f"{where}: imports {alias.name!r} from the package root (import its module)")
                submodule = SOURCE.parent.joinpath(*f"{node.module}.{alias.name}".split("."))
                is_module = submodule.with_suffix(".py").is_file() or (submodule / "__init__.py").is_file()
                if alias.name.startswith("_") and not alias.name.startswith("__") and alias.name != "_core":
                    if node.module != here and not is_module:
                        problems.append(f"{where}: takes the private name {alias.name!r} from {node.module}")
    return problems


def main() -> int:
    graph = grimp.build_graph(PACKAGE, exclude_type_checking_imports=True)
    cycles = _cycles(graph)
    problems = _import_problems()
    print(f"{len(graph.modules)} modules in {PACKAGE}")
    print(f"cycles: {len(cycles)}")
    for cycle in cycles:
        print("  " + " <-> ".join(cycle))
    print(f"import rule breaks: {len(problems)}")
    for problem in problems:
        print("  " + problem)
    sizes = sorted(
        ((sum(1 for _ in p.open(encoding="utf-8")), p.relative_to(ROOT)) for p in SOURCE.rglob("*.py")), reverse=True
    )
    rust = sorted(
        ((sum(1 for _ in p.open(encoding="utf-8")), p.relative_to(ROOT)) for p in (ROOT / "rust").rglob("*.rs")),
        reverse=True,
    )
    print("longest Python files:")
    for lines, path in sizes[:8]:
        print(f"  {lines:5d}  {path}")
    print("longest Rust files:")
    for lines, path in rust[:8]:
        print(f"  {lines:5d}  {path}")
    return 1 if cycles or problems else 0


if __name__ == "__main__":
    sys.exit(main())
