"""A submission's definitions, without its experiments.

Only top-level imports, functions, classes and constants are kept (a constant: an assignment whose
value has no calls and reads only names kept before it, e.g. `PATCH = 4`, `SIZES = (2, 4, 8)`,
`DTYPE = torch.float32`; or any assignment the graded code reads, e.g. `DEVICE = get_device()`);
training loops, plots, prints and cells tagged `instructor` are left out. Each statement is kept
with its cell and line so errors point at the student's own code. Cells that do not parse are
skipped (and reported), not fatal.
"""
from __future__ import annotations

import ast
import builtins
import json
import re
import symtable
from dataclasses import dataclass, field
from pathlib import Path

from .notebook import cell_source

_MAGIC = re.compile(r"^\s*(%|!|\?)|^\s*\w[\w.]*\?\??\s*$")
_CONSTANT_NODES = (ast.Constant, ast.Name, ast.Attribute, ast.Tuple, ast.List, ast.Set, ast.Dict, ast.UnaryOp,
                   ast.BinOp, ast.Subscript, ast.Slice, ast.Lambda, ast.arguments, ast.arg, ast.keyword,
                   ast.Load, ast.Store, ast.operator, ast.unaryop, ast.Starred)


@dataclass
class Statement:
    cell: int          # 1-based number of the code cell (or 1 for a .py file)
    line: int          # first line inside that cell
    kind: str          # "import", "def", "class" or "constant"
    names: tuple       # names it binds
    source: str
    node: ast.AST = field(repr=False, compare=False)


@dataclass
class Extraction:
    statements: list
    problems: list     # human-readable notes: cells that did not parse, ...

    def defined(self) -> set:
        return {n for s in self.statements for n in s.names}

    def definition(self, name: str):
        """The last statement binding `name` (the one in force after all cells ran)."""
        for s in reversed(self.statements):
            if name in s.names:
                return s
        return None


def submission_cells(path) -> list[tuple[int, str]]:
    """(cell number, source) for each code cell of an .ipynb, or the whole file of a .py."""
    path = Path(path)
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".py":
        return [(1, text)]
    try:
        nb = json.loads(text)
        cells = nb["cells"]
    except (json.JSONDecodeError, KeyError, TypeError):
        raise ValueError(f"{path.name} is not a readable notebook (invalid JSON or no cells)") from None
    code = [c for c in cells if isinstance(c, dict) and c.get("cell_type") == "code"
            and "instructor" not in (c.get("metadata") or {}).get("tags", [])]
    return [(i, cell_source(c)) for i, c in enumerate(code, start=1)]


def strip_magics(source: str) -> str:
    """Blank out IPython-only lines (%magic, !shell, obj?) keeping line numbers."""
    return "\n".join("" if _MAGIC.match(line) else line for line in source.split("\n"))


def _is_constant(value) -> bool:
    return value is not None and all(isinstance(n, _CONSTANT_NODES) for n in ast.walk(value))


def _bound_names(node) -> tuple:
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return tuple((a.asname or a.name).split(".")[0] for a in node.names if a.name != "*")
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return (node.name,)
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    return tuple(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))


def _free_names(value) -> set:
    """Names a constant's value reads (lambda parameters excluded)."""
    params = {a.arg for n in ast.walk(value) if isinstance(n, ast.Lambda) for a in ast.walk(n.args)
              if isinstance(a, ast.arg)}
    return {n.id for n in ast.walk(value) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)} - params


def _plain_targets(node) -> bool:
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    return all(isinstance(n, (ast.Name, ast.Tuple, ast.List, ast.Store, ast.Load)) for t in targets for n in ast.walk(t))


def _kind(node) -> str | None:
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return "import"
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return "def"
    if isinstance(node, ast.ClassDef):
        return "class"
    if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None and _plain_targets(node):
        return "constant" if _is_constant(node.value) else "computed"
    return None


def _global_reads(node) -> set:
    """Module-level names a statement reads when it runs or when the functions it defines are called."""
    table = symtable.symtable(ast.unparse(node), "<statement>", "exec")
    names, todo = set(), [table]
    while todo:
        t = todo.pop()
        for sym in t.get_symbols():
            if not sym.is_referenced():
                continue
            if t.get_type() == "function" and sym.is_global():
                names.add(sym.get_name())
            elif t.get_type() != "function" and not sym.is_imported() and (t is table or not sym.is_assigned()):
                names.add(sym.get_name())
        todo.extend(t.get_children())
    return names


def _needed(candidates, roots) -> set:
    """Names reachable from `roots` through what the candidate statements read."""
    binders = {}
    for node, kind in candidates:
        for name in _bound_names(node):
            binders.setdefault(name, []).append(node)
    seen, todo = set(), list(roots)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for node in binders.get(name, []):
            todo.extend(_global_reads(node))
    return seen


def extract_definitions(cells, roots=None) -> Extraction:
    """Keep the definitions of a list of (cell number, source).

    Imports, functions, classes and constants are kept. An assignment computed by a call
    (`DEVICE = get_device()`) is kept only if the graded names `roots` (default: every function and
    class) need it, directly or through other definitions — so `history = fit(...)` is left out.
    """
    parsed, problems = [], []
    for number, source in cells:
        source = strip_magics(source)
        try:
            parsed.append((number, source, ast.parse(source)))
        except SyntaxError as e:
            problems.append(f"cell {number} has a syntax error (line {e.lineno}: {e.msg}); "
                            f"its definitions were not graded")
    candidates = [(node, _kind(node)) for _, _, tree in parsed for node in tree.body if _kind(node)]
    if roots is None:
        roots = [n for node, kind in candidates if kind in ("def", "class") for n in _bound_names(node)]
    needed = _needed(candidates, roots)
    statements, bound = [], set(dir(builtins))
    for number, source, tree in parsed:
        for node in tree.body:
            kind = _kind(node)
            if kind is None or (kind == "constant" and not _free_names(node.value) <= bound) or \
                    (kind == "computed" and not set(_bound_names(node)) & needed):
                continue                                   # experiments, or a value computed by one
            bound.update(_bound_names(node))
            first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
            lines = source.split("\n")[first - 1: node.end_lineno]
            text = "\n".join(lines) if node.col_offset == 0 and not _shares_line(node, tree.body) else ast.unparse(node)
            statements.append(Statement(number, first, kind, _bound_names(node), text, node))
    return Extraction(statements, problems)


def _shares_line(node, body) -> bool:
    return any(o is not node and o.lineno <= node.end_lineno and o.end_lineno >= node.lineno for o in body)


def extract_file(path, roots=None) -> Extraction:
    return extract_definitions(submission_cells(path), roots)
