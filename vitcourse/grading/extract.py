"""A submission's definitions, without its experiments.

What runs is what IPython would run: magics go through IPython's own input transformation
(`%time f()` runs `f()`, other line magics do nothing, `%%writefile name.py` cells become files in
the sandbox's working folder, `%%bash`-style cells are skipped); a byte-order mark and CRLF line
ends are accepted. Only top-level imports, functions, classes and constants are kept, also inside
`try/except ImportError` and `if` blocks made only of those (a constant: an assignment whose
value has no calls and reads only names kept before it, e.g. `PATCH = 4`, `SIZES = (2, 4, 8)`,
`DTYPE = torch.float32`; or any assignment the graded code reads, e.g. `DEVICE = get_device()`,
`CONFIG["lr"] = 3e-4`);
training loops, plots, prints and cells tagged `instructor` are left out. Each statement is kept
with its cell and line so errors point at the student's own code. Cells that do not parse are
skipped (and reported), not fatal.
"""
from __future__ import annotations

import ast
import builtins
import json
import symtable
from dataclasses import dataclass, field
from pathlib import Path

from .magics import AST_LOCK, normalise, parse, strip_magics, writefile  # noqa: F401  (strip_magics: re-exported)
from .notebook import cell_source

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
    files: dict = field(default_factory=dict)   # %%writefile cells: file name -> text

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
    text = path.read_bytes().decode("utf-8-sig", errors="replace")
    if path.suffix.lower() == ".py":
        return [(1, normalise(text))]
    try:
        nb = json.loads(text)
        cells = nb["cells"]
    except (json.JSONDecodeError, KeyError, TypeError):
        raise ValueError(f"{path.name} is not a readable notebook (invalid JSON or no cells)") from None
    code = [c for c in cells if isinstance(c, dict) and c.get("cell_type") == "code"
            and "instructor" not in (c.get("metadata") or {}).get("tags", [])]
    return [(i, normalise(cell_source(c))) for i, c in enumerate(code, start=1)]


def _is_constant(value) -> bool:
    return value is not None and all(isinstance(n, _CONSTANT_NODES) for n in ast.walk(value))


def _base(target):
    while isinstance(target, (ast.Subscript, ast.Attribute)):
        target = target.value
    return target


def _bound_names(node) -> tuple:
    if isinstance(node, (ast.Try, ast.If)):
        inner = node.body + node.orelse + getattr(node, "finalbody", []) + [
            n for h in getattr(node, "handlers", []) for n in h.body]
        return tuple(dict.fromkeys(n for s in inner if _kind(s) not in (None, "mutate") for n in _bound_names(s)))
    if isinstance(node, ast.Assign) and isinstance(node.targets[0], (ast.Subscript, ast.Attribute)):
        return ()
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


_IMPORT_ERRORS = {"ImportError", "ModuleNotFoundError", "Exception"}


def _block_ok(body) -> bool:
    return all(_kind(n) is not None or isinstance(n, (ast.Pass, ast.Expr)) and
               (isinstance(n, ast.Pass) or isinstance(n.value, ast.Constant)) for n in body)


def _catches_import_error(h) -> bool:
    names = h.type.elts if isinstance(h.type, ast.Tuple) else [h.type]
    return h.type is not None and all(isinstance(n, ast.Name) and n.id in _IMPORT_ERRORS for n in names)


def _kind(node) -> str | None:
    if isinstance(node, ast.Try) and all(_catches_import_error(h) for h in node.handlers) and \
            all(_block_ok(b) for b in [node.body, node.orelse, node.finalbody] + [h.body for h in node.handlers]):
        return "computed"
    if isinstance(node, ast.If) and _block_ok(node.body) and _block_ok(node.orelse):
        return "computed"
    if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], (ast.Subscript,
                                                                                               ast.Attribute)):
        return "mutate" if isinstance(_base(node.targets[0]), ast.Name) else None
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
    with AST_LOCK:
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
        names = (_base(node.targets[0]).id,) if kind == "mutate" else _bound_names(node)
        for name in names:
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
    parsed, problems, files = [], [], {}
    for number, source in cells:
        source = normalise(source)
        wf = writefile(source)
        if wf:
            name, text, append = wf
            files[name] = files.get(name, "") + text if append else text
            continue
        source = strip_magics(source)
        try:
            parsed.append((number, source, parse(source)))
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
                    (kind == "computed" and not set(_bound_names(node)) & needed) or \
                    (kind == "mutate" and (_base(node.targets[0]).id not in bound or
                                           _base(node.targets[0]).id not in needed)):
                continue                                   # experiments, or a value computed by one
            bound.update(_bound_names(node))
            first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
            lines = source.split("\n")[first - 1: node.end_lineno]
            text = "\n".join(lines) if node.col_offset == 0 and not _shares_line(node, tree.body) else ast.unparse(node)
            statements.append(Statement(number, first, kind, _bound_names(node), text, node))
    return Extraction(statements, problems, files)


def _shares_line(node, body) -> bool:
    return any(o is not node and o.lineno <= node.end_lineno and o.end_lineno >= node.lineno for o in body)


def extract_file(path, roots=None) -> Extraction:
    return extract_definitions(submission_cells(path), roots)
