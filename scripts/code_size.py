"""The longest functions and the largest modules of the project's packages.

    python scripts/code_size.py            # 15 of each, over config/ storage/ tasks/ flows/
    python scripts/code_size.py --top 30 tasks storage

A function's length is its lines from ``def`` (decorators excluded) to its last line, blank
lines and docstring included; nested functions and methods are listed on their own, under
their qualified name (``give_verdict.record``), and also count towards the function that
holds them. A module's size is its physical line count. Migrations are left out: they are
generated and never edited.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("config", "storage", "tasks", "flows")
SKIP_PARTS = {"migrations", "__pycache__"}


def python_files(roots: list[Path]) -> list[Path]:
    files: list[Path] = []
    for root in roots:
        candidates = [root] if root.is_file() else sorted(root.rglob("*.py"))
        files.extend(path for path in candidates if not SKIP_PARTS & set(path.parts))
    return files


def functions(tree: ast.AST) -> list[tuple[str, int, int]]:
    """(qualified name, first line, length) of every function and method in ``tree``."""
    found: list[tuple[str, int, int]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = f"{prefix}{child.name}"
                found.append((name, child.lineno, child.end_lineno - child.lineno + 1))
                visit(child, f"{name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(tree, "")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", help="folders or files (default: the four packages)")
    parser.add_argument("--top", type=int, default=15, help="how many of each to list (15)")
    args = parser.parse_args(argv)
    roots = [Path(p) for p in args.paths] or [ROOT / name for name in PACKAGES]

    modules: list[tuple[int, str]] = []
    funcs: list[tuple[int, str, str, int]] = []
    for path in python_files(roots):
        text = path.read_text(encoding="utf-8")
        shown = str(path.resolve().relative_to(ROOT)) if path.resolve().is_relative_to(ROOT) else str(path)
        modules.append((len(text.splitlines()), shown))
        for name, line, length in functions(ast.parse(text, filename=str(path))):
            funcs.append((length, name, shown, line))

    funcs.sort(key=lambda f: (-f[0], f[2], f[3]))
    modules.sort(key=lambda m: (-m[0], m[1]))
    print(f"longest functions (of {len(funcs)})")
    print(f"{'lines':>5}  function  (file:line)")
    for length, name, shown, line in funcs[: args.top]:
        print(f"{length:>5}  {name}  ({shown}:{line})")
    print()
    print(f"largest modules (of {len(modules)}, {sum(m[0] for m in modules)} lines in all)")
    print(f"{'lines':>5}  module")
    for lines, shown in modules[: args.top]:
        print(f"{lines:>5}  {shown}")
    over = sum(1 for f in funcs if f[0] > 80)
    print()
    print(f"functions over 80 lines: {over}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
