"""Graded code that uses the course package where it must not.

`vitcourse` holds reference implementations of what the students write (patchify, attention, the
ViT, ...). `vitcourse_uses` follows each graded definition through the student's own helpers and
reports any reference to `vitcourse` outside the allowed helper modules: imports, subclasses,
wrappers, aliases and module names written in strings (dynamic imports).
"""
from __future__ import annotations

import ast
import re

from .extract import Extraction

_MODULE_STRING = re.compile(r"^\s*vitcourse(\.\w+)*\s*$")


def _vitcourse_bindings(extraction: Extraction) -> dict:
    """{local name: dotted vitcourse path} for every import of the course package."""
    bound = {}
    for s in extraction.statements:
        node = s.node
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "vitcourse":
                    bound[a.asname or "vitcourse"] = a.name if a.asname else "vitcourse"
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "vitcourse" \
                and not node.level:
            for a in node.names:
                bound[a.asname or a.name] = f"{node.module}.{a.name}"
    return bound


def _dotted(node) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id] + parts[::-1])
    return None


class _Refs(ast.NodeVisitor):
    """Collects the longest dotted vitcourse paths and the plain names used inside a statement."""

    def __init__(self, bindings):
        self.bindings, self.paths, self.names = bindings, set(), set()

    def visit_Attribute(self, node):
        dotted = _dotted(node)
        if dotted and dotted.split(".")[0] in self.bindings:
            head, _, rest = dotted.partition(".")
            self.paths.add(self.bindings[head] + "." + rest)
            self.names.add(head)
        else:
            self.generic_visit(node)

    def visit_Name(self, node):
        self.names.add(node.id)
        if node.id in self.bindings:
            self.paths.add(self.bindings[node.id])

    def visit_Constant(self, node):
        if isinstance(node.value, str) and _MODULE_STRING.match(node.value):
            self.paths.add(f"{node.value} (named in a string: a dynamic import?)")


def _references(node, bindings: dict) -> tuple[set, set]:
    """(vitcourse paths referenced, names used) inside one statement."""
    refs = _Refs(bindings)
    refs.visit(node)
    return refs.paths, refs.names


def is_allowed(path: str, allowed: tuple) -> bool:
    """A helper students may use, or a module attribute such as `vitcourse.__file__`."""
    return path.rsplit(".", 1)[-1].startswith("__") or any(path == a or path.startswith(a + ".") for a in allowed)


def vitcourse_uses(extraction: Extraction, graded: tuple, allowed: tuple) -> dict:
    """{graded name: [vitcourse paths it uses, directly or through the student's own helpers]}.

    `allowed` lists dotted prefixes students may use (e.g. "vitcourse.data"); attribute chains are
    resolved (`vitcourse.data.load_digits` is one use, of an allowed helper).
    """
    bindings = _vitcourse_bindings(extraction)
    own = {}
    for s in extraction.statements:
        if s.kind in ("def", "class", "constant", "computed"):
            for name in s.names:
                own[name] = s                                              # the last definition wins
    flagged = {}
    for name in graded:
        if name in bindings and name not in own:
            flagged[name] = [bindings[name]]
            continue
        seen, todo, hits = set(), [name], set()
        while todo:
            current = todo.pop()
            if current in seen or current not in own:
                continue
            seen.add(current)
            paths, used = _references(own[current].node, bindings)
            hits |= {p for p in paths if not is_allowed(p, allowed)}
            todo.extend(used & set(own))
        if hits:
            flagged[name] = sorted(hits)
    return flagged
