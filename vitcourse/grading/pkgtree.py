"""The `vitcourse` the submission's sandbox sees: the grader's runtime and the allowed helpers only.

The course package holds reference implementations of what students write (patchify, attention,
the ViT, ...). Rather than detecting their use, the sandbox never contains them: this module builds
a copy of the package with a stub `__init__`, the grading modules the submission's process needs
(`RUNTIME`), and the helpers the TP allows (`Assignment.allowed_vitcourse`) with the package
modules they import at top level. An allowed attribute (`vitcourse.measure.time_callable`) gets a
module holding only that definition and what it uses. The sandbox mounts the copy, read-only, at
the real package's path, so `import vitcourse.pos_embed` fails inside however it is spelled.
"""
from __future__ import annotations

import ast
import shutil
from pathlib import Path

import vitcourse

from .magics import parse

PACKAGE = Path(vitcourse.__file__).resolve().parent
RUNTIME = ("grading/__init__.py", "grading/child.py", "grading/guard.py", "grading/codec.py", "grading/spec.py",
           "grading/assignments.py", "grading/judge.py", "grading/tp1.py", "grading/tp2.py",
           "grading/tp3.py", "grading/tp4.py")
STUB = '"""The course package as the grading sandbox sees it: the allowed helpers only (see grading/pkgtree.py)."""\n'


def _module_file(dotted: str) -> Path | None:
    """vitcourse.a.b -> the package-relative path of that module or package, or None."""
    parts = dotted.split(".")[1:]
    base = PACKAGE.joinpath(*parts) if parts else PACKAGE
    if base.is_dir() and (base / "__init__.py").exists():
        return base
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    return None


def _imports(path: Path, dotted: str) -> set:
    """The vitcourse modules a file imports at top level (absolute or relative)."""
    tree = parse(path.read_text(encoding="utf-8"))
    package = dotted if path.name == "__init__.py" else dotted.rpartition(".")[0]
    found = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                mod = base + ("." + node.module if node.module else "")
            else:
                mod = node.module or ""
            if mod.split(".")[0] == "vitcourse":
                found.add(mod)
                found |= {f"{mod}.{a.name}" for a in node.names if _module_file(f"{mod}.{a.name}")}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "vitcourse"}
    return {m for m in found if m != "vitcourse"}


def _only(source: str, names: set) -> str:
    """A module's docstring, imports and the top-level definitions `names` need (transitively)."""
    tree = parse(source)
    defs = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defs[node.name] = node
        elif isinstance(node, ast.Assign):
            for t in node.targets:
                if isinstance(t, ast.Name):
                    defs[t.id] = node
    keep, todo = set(), list(names)
    while todo:
        n = todo.pop()
        if n in keep or n not in defs:
            continue
        keep.add(n)
        todo += [x.id for x in ast.walk(defs[n]) if isinstance(x, ast.Name)]
    body = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom)) or
            (isinstance(node, ast.Expr) and node is tree.body[0]) or any(defs.get(k) is node for k in keep)]
    return ast.unparse(ast.Module(body=body, type_ignores=[])) + "\n"


def build(dest, allowed: tuple, extra: tuple = ()) -> Path:
    """Write the sandbox's package under dest/vitcourse and return that folder.

    `allowed`: dotted modules, packages or attributes the submission may use; `extra`: modules the
    grader itself needs in a given run (e.g. the correct parts a "builds on" rescue substitutes).
    """
    root = Path(dest) / "vitcourse"
    if root.exists():
        shutil.rmtree(root)
    (root / "grading").mkdir(parents=True)
    (root / "__init__.py").write_text(STUB, encoding="utf-8")
    for rel in RUNTIME:
        shutil.copy(PACKAGE / rel, root / rel)
    todo, done = list(allowed) + list(extra), set()
    while todo:
        dotted = todo.pop()
        if dotted in done:
            continue
        done.add(dotted)
        found = _module_file(dotted)
        if found is None:                                    # an attribute: vitcourse.measure.time_callable
            module, _, attr = dotted.rpartition(".")
            path = _module_file(module)
            if path is None or path.is_dir():
                raise ValueError(f"allowed helper {dotted!r} is neither a module nor a function of one")
            if module in done or module in todo:             # the whole module is allowed anyway
                continue
            target = root / path.relative_to(PACKAGE)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(_only(path.read_text(encoding="utf-8"), _attrs_of(done, module)), encoding="utf-8")
            todo += sorted(_imports(path, module))
            continue
        rel = found.relative_to(PACKAGE)
        if found.is_dir():                                   # a sub-package: all of it, and what it imports
            shutil.copytree(found, root / rel, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
            for p in found.rglob("*.py"):
                inner = ".".join((dotted, *p.relative_to(found).with_suffix("").parts)).removesuffix(".__init__")
                todo += sorted(_imports(p, inner))
            continue
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(found, root / rel)
        todo += sorted(_imports(found, dotted))
    for d in root.rglob("*"):                                # every sub-package can be imported
        if d.is_dir() and d.name != "__pycache__" and not (d / "__init__.py").exists():
            (d / "__init__.py").write_text(STUB, encoding="utf-8")
    return root


def _attrs_of(done: set, module: str) -> set:
    """Every allowed attribute of `module` seen so far (two allowed functions of one module)."""
    return {d.rpartition(".")[2] for d in done if d.rpartition(".")[0] == module and _module_file(d) is None}


def modules(root) -> list:
    """The dotted names of every module in a built tree (what the import blocker lets through)."""
    root = Path(root)
    names = []
    for p in sorted(root.rglob("*.py")):
        parts = ("vitcourse",) + p.relative_to(root).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names
