"""Pytrees: nested tuples, lists and dicts of arrays (dicts in sorted key order)."""
from __future__ import annotations


class TreeDef:
    __slots__ = ("kind", "meta", "children")

    def __init__(self, kind, meta, children):
        self.kind, self.meta, self.children = kind, meta, children

    def __eq__(self, other):
        return (isinstance(other, TreeDef) and self.kind == other.kind
                and self.meta == other.meta and self.children == other.children)

    def __repr__(self):
        if self.kind == "leaf":
            return "*"
        if self.kind == "dict":
            return "{" + ", ".join(f"{k!r}: {c!r}" for k, c in zip(self.meta, self.children)) + "}"
        return f"{self.kind}({', '.join(map(repr, self.children))})"


LEAF = TreeDef("leaf", None, ())


def flatten(tree):
    """(leaves, treedef)."""
    leaves: list = []
    return leaves, _flatten(tree, leaves)


def _flatten(t, leaves):
    if isinstance(t, (tuple, list)) and not hasattr(t, "_fields"):
        return TreeDef(type(t).__name__, None, tuple(_flatten(c, leaves) for c in t))
    if isinstance(t, tuple):    # namedtuple
        return TreeDef("namedtuple", type(t), tuple(_flatten(c, leaves) for c in t))
    if isinstance(t, dict):
        keys = sorted(t)
        return TreeDef("dict", tuple(keys), tuple(_flatten(t[k], leaves) for k in keys))
    leaves.append(t)
    return LEAF


def paths(treedef):
    """Each leaf's path in flatten's order, as an index expression: ``"[0]"``, ``"['W1']"``,
    ``".bias"`` (a namedtuple's field), ``"[1]['b']"``; ``""`` for a bare leaf. For error
    messages that name a leaf of a pytree argument."""
    out: list = []
    _paths(treedef, "", out)
    return out


def _paths(td, at, out):
    if td.kind == "leaf":
        out.append(at)
    elif td.kind == "dict":
        for k, c in zip(td.meta, td.children):
            _paths(c, f"{at}[{k!r}]", out)
    elif td.kind == "namedtuple":
        for f, c in zip(td.meta._fields, td.children):
            _paths(c, f"{at}.{f}", out)
    else:
        for i, c in enumerate(td.children):
            _paths(c, f"{at}[{i}]", out)


def unflatten(treedef, leaves):
    it = iter(leaves)
    out = _unflatten(treedef, it)
    return out


def _unflatten(td, it):
    if td.kind == "leaf":
        return next(it)
    kids = [_unflatten(c, it) for c in td.children]
    if td.kind == "tuple":
        return tuple(kids)
    if td.kind == "list":
        return kids
    if td.kind == "namedtuple":
        return td.meta(*kids)
    return dict(zip(td.meta, kids))


def tree_map(f, tree, *rest):
    """``f`` applied leaf by leaf; every tree in ``rest`` must have ``tree``'s structure (a
    ValueError otherwise: zipping the leaves of different structures would pair leaves
    that do not correspond, or drop some, silently)."""
    leaves, td = flatten(tree)
    others = []
    for r in rest:
        rl, rtd = flatten(r)
        if rtd != td:
            raise ValueError(f"pytree structures differ: {rtd} where {td} was expected")
        others.append(rl)
    return unflatten(td, [f(*xs) for xs in zip(leaves, *others)])
