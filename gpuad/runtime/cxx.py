"""A light reader of CUDA C++ source: the one place gpuad scans kernel text.

It finds ``__global__`` kernels, their parameters and the names that reach a barrier; it
does not parse C++. What it cannot read it reports as unknown (``None``), and callers
leave that unchecked. Used by the host build (``host.py``: which kernels get launchers,
which need fibers), by the launch checks on a GPU (``checks.py``) and by custom
primitives (``kernel_params``).
"""
from __future__ import annotations

import dataclasses
import functools
import re
from typing import Sequence

_COMMENT_OR_LITERAL = re.compile(r'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.S)
_DIRECTIVE = re.compile(r"^[ \t]*#(?:[^\n]*\\\n)*[^\n]*", re.M)
_TOKEN = re.compile(r"[A-Za-z_]\w*|::|\S")
IDENT = re.compile(r"[A-Za-z_]\w*")
_BARRIER = re.compile(r"__(?:syncthreads\w*|syncwarp|shfl\w*_sync|ballot_sync|any_sync|all_sync)")
_DEFINE = re.compile(r"^[ \t]*#[ \t]*define[ \t]+([A-Za-z_]\w*)((?:[^\n]*\\\n)*[^\n]*)", re.M)
_NOT_FUNCTIONS = {"if", "for", "while", "switch", "catch", "return", "sizeof", "alignof", "decltype",
                  "noexcept", "static_assert", "__attribute__", "defined"}
_QUALIFIERS = {"const", "noexcept", "override", "final", "mutable", "volatile", "&", "&&"}
_ATTRIBUTE_CALLS = ("__launch_bounds__", "__attribute__", "alignas", "__align__")


@functools.lru_cache(maxsize=64)
def strip(code: str) -> str:
    """Comments and literals blanked (same length, newlines kept; "..." becomes ""); cached
    by text (the shared headers of every module)."""
    def blank(m):
        s = m.group(0)
        if s[0] in "\"'":
            return s[0] + " " * (len(s) - 2) + s[-1]
        return re.sub(r"[^\n]", " ", s)
    return _COMMENT_OR_LITERAL.sub(blank, code)


def tokens(stripped: str) -> list[re.Match]:
    """Tokens of ``strip``'d text, preprocessor directives left out."""
    return list(_TOKEN.finditer(_DIRECTIVE.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), stripped)))


def brackets(toks: Sequence[str]) -> dict[int, int]:
    """Index of each (, {, ), } -> index of its partner."""
    pair, stack = {}, []
    for i, t in enumerate(toks):
        if t in "({":
            stack.append(i)
        elif t in ")}" and stack:
            j = stack.pop()
            pair[i], pair[j] = j, i
    return pair


@dataclasses.dataclass(frozen=True)
class _Global:
    """One ``__global__`` declaration or definition found by :func:`_globals`."""
    name: str
    qualified: str
    template: tuple | None      # ((name, default text or None), ...); None: not a template
    params: tuple               # token index ranges (start, stop) of each parameter
    defined: bool


def _angle_end(toks: Sequence[str], i: int) -> int:
    """Index of the '>' closing the '<' at ``i`` (``len(toks)`` if none)."""
    depth = 0
    for j in range(i, len(toks)):
        if toks[j] in "<([":
            depth += 1
        elif toks[j] in ">)]":
            depth -= 1
            if depth == 0:
                return j
        elif toks[j] in ";{}":
            break
    return len(toks)


def _split(toks: Sequence[str], lo: int, hi: int) -> list[tuple[int, int]]:
    """Ranges of the comma-separated items of toks[lo:hi] (commas inside (), [], <>, {} kept)."""
    out, depth, start = [], 0, lo
    for j in range(lo, hi):
        t = toks[j]
        if t in "([{<":
            depth += 1
        elif t in ")]}>" and depth:
            depth -= 1
        elif t == "," and depth == 0:
            out.append((start, j))
            start = j + 1
    if start < hi:
        out.append((start, hi))
    return out


def _template_params(toks: Sequence[str], lo: int, hi: int) -> tuple | None:
    """``template <...>``'s parameters as ((name, default), ...); None if one is a pack."""
    out = []
    for a, b in _split(toks, lo, hi):
        part = list(toks[a:b])
        if "..." in "".join(part):
            return None
        default = None
        if "=" in part:
            k = part.index("=")
            default, part = " ".join(part[k + 1:]), part[:k]
        names = [t for t in part if IDENT.fullmatch(t)]
        out.append((names[-1] if len(names) > 1 else "", default))
    return tuple(out)


def _globals(stripped: str):
    """Every ``__global__`` function at namespace scope, and the character ranges of braces
    that are not namespaces or extern "C" blocks (function and class bodies)."""
    ms = tokens(stripped)
    toks = [m.group(0) for m in ms]
    pair = brackets(toks)
    found: list[_Global] = []
    scopes: list[str | None] = []  # namespace name, "" (transparent) or None (other)
    bodies: list[tuple[int, int]] = []
    start = 0
    for i, t in enumerate(toks):
        if t == "{":
            decl = toks[start:i]
            if "namespace" in decl:
                scopes.append("::".join(x for x in decl[decl.index("namespace") + 1:] if x != "::"))
            elif decl[-2:] == ["extern", '"'] or decl[-3:] == ["extern", '"', '"']:
                scopes.append("")
            else:
                scopes.append(None)
                if i in pair:
                    bodies.append((ms[i].start(), ms[pair[i]].start()))
            start = i + 1
        elif t == "}":
            if scopes:
                scopes.pop()
            start = i + 1
        elif t == ";":
            start = i + 1
        elif t == "__global__" and None not in scopes:
            j = i + 1
            while j < len(toks) and toks[j] != "(":
                j += 1
            while j < len(toks) and toks[j - 1] in _ATTRIBUTE_CALLS:
                j = pair.get(j, len(toks)) + 1
                while j < len(toks) and toks[j] != "(":
                    j += 1
            if j >= len(toks) or j not in pair or not IDENT.fullmatch(toks[j - 1]):
                continue
            k = pair[j] + 1
            while k < len(toks) and toks[k] not in ("{", ";"):
                k += 1
            template = None
            head = toks[start:i]
            if "template" in head:
                lo = start + head.index("template") + 1
                template = _template_params(toks, lo + 1, _angle_end(toks, lo)) if toks[lo] == "<" else None
                template = template if template is not None else ((None, None),)
            name = toks[j - 1]
            found.append(_Global(name, "::".join([s for s in scopes if s] + [name]), template,
                                 tuple(_split(toks, j + 1, pair[j])), k < len(toks) and toks[k] == "{"))
    return found, bodies, ms


def scan_kernels(stripped: str):
    """Non-template __global__ definitions -> {bare name: qualified name}, and the character
    ranges of braces that are not namespaces or extern "C" blocks (function and class bodies)."""
    plain, bodies = _scan_kernels(stripped)
    return dict(plain), list(bodies)


@functools.lru_cache(maxsize=64)
def _scan_kernels(stripped: str):
    # Cached by text: a source's modules (one per group of instantiations) share it.
    found, bodies, _ = _globals(stripped)
    return tuple((g.name, g.qualified) for g in found if g.defined and g.template is None), tuple(bodies)


@functools.lru_cache(maxsize=64)
def _uses(text: str) -> tuple:
    """((name, identifiers its body or macro text uses), ...) of one strip'd text. Cached by
    text: every module of a kernel source reads the same headers (most of the text), and a
    warm start reads them once instead of per module."""
    out = []
    for m in _DEFINE.finditer(text):
        out.append((m.group(1), frozenset(IDENT.findall(m.group(2)))))
    toks = [m.group(0) for m in tokens(text)]
    pair = brackets(toks)
    for i, t in enumerate(toks):
        if t != "{" or i not in pair:
            continue
        j = i - 1
        while j >= 0 and toks[j] in _QUALIFIERS:
            j -= 1
        if j > 0 and toks[j] == ")" and j in pair and toks[pair[j] - 1] == "noexcept":
            j = pair[j] - 2
            while j >= 0 and toks[j] in _QUALIFIERS:
                j -= 1
        if j <= 0 or toks[j] != ")" or j not in pair:
            continue
        name = toks[pair[j] - 1] if pair[j] > 0 else ""
        if IDENT.fullmatch(name) and name not in _NOT_FUNCTIONS:
            out.append((name, frozenset(x for x in toks[i + 1:pair[i]] if IDENT.fullmatch(x))))
    return tuple(out)


def barrier_names(stripped_texts: Sequence[str]) -> set[str]:
    """Names of functions and macros that use a barrier or warp function, directly or through
    other such names (by identifier, across all texts; conservative)."""
    uses: dict[str, set[str]] = {}
    for text in stripped_texts:
        for name, ids in _uses(text):
            uses.setdefault(name, set()).update(ids)
    found = {x for ids in uses.values() for x in ids if _BARRIER.fullmatch(x)}
    changed = True
    while changed:
        changed = False
        for name, ids in uses.items():
            if name not in found and not ids.isdisjoint(found):
                found.add(name)
                changed = True
    return found


# ------------------------------------------------------------------------------ parameters
# Built-in scalar types as the CUDA compilers lay them out on 64-bit Linux (LP64): byte size
# and kind ('f' floating, 'i' signed, 'u' unsigned, 'b' bool).
SCALARS: dict[str, tuple[int, str]] = {
    "bool": (1, "b"), "char": (1, "i"), "signed char": (1, "i"), "unsigned char": (1, "u"),
    "short": (2, "i"), "short int": (2, "i"), "signed short": (2, "i"), "signed short int": (2, "i"),
    "unsigned short": (2, "u"), "unsigned short int": (2, "u"),
    "int": (4, "i"), "signed": (4, "i"), "signed int": (4, "i"), "unsigned": (4, "u"), "unsigned int": (4, "u"),
    "long": (8, "i"), "long int": (8, "i"), "signed long": (8, "i"), "unsigned long": (8, "u"),
    "unsigned long int": (8, "u"), "long long": (8, "i"), "long long int": (8, "i"),
    "signed long long": (8, "i"), "unsigned long long": (8, "u"), "unsigned long long int": (8, "u"),
    "int8_t": (1, "i"), "uint8_t": (1, "u"), "int16_t": (2, "i"), "uint16_t": (2, "u"),
    "int32_t": (4, "i"), "uint32_t": (4, "u"), "int64_t": (8, "i"), "uint64_t": (8, "u"),
    "size_t": (8, "u"), "ptrdiff_t": (8, "i"), "intptr_t": (8, "i"), "uintptr_t": (8, "u"),
    "float": (4, "f"), "double": (8, "f"), "half": (2, "f"), "__half": (2, "f"),
}
# Words that do not change a parameter's type for the purpose of passing it.
_NOISE = {"const", "volatile", "__restrict__", "__restrict", "restrict", "__grid_constant__",
          "struct", "class", "typename", "register"}


@dataclasses.dataclass(frozen=True)
class Param:
    """One kernel parameter as read from the source.

    ``decl``: the declaration as written (``"const T* __restrict__ x"``); ``name``: its name
    (``""`` if unnamed); ``type``: its type with template parameters substituted where known
    and qualifiers dropped (``"double*"``); ``pointer``: passed as a pointer (``T*`` or
    ``T x[]``); ``const``: a pointer whose pointee is const (the kernel only reads through
    it); ``size``: byte size of a by-value built-in scalar, else None; ``kind``: 'f', 'i',
    'u' or 'b' for such a scalar, else None; ``elem_size``/``elem_kind``: the same for a
    pointer's pointee (None when the pointee is not a built-in scalar); ``written``: the type
    as written, before :meth:`Signature.instantiate` substituted template parameters.
    """
    decl: str
    name: str
    type: str
    pointer: bool
    const: bool
    size: int | None
    kind: str | None = None
    elem_size: int | None = None
    elem_kind: str | None = None
    written: str = ""           # ``type`` before template parameters were substituted

    def __str__(self):
        return self.decl


@dataclasses.dataclass(frozen=True)
class Signature:
    """A kernel's parameters (:class:`Param`) and, for a template, its template parameters
    as ((name, default text or None), ...)."""
    name: str
    params: tuple
    template: tuple | None
    _toks: tuple = dataclasses.field(repr=False, compare=False, default=())

    def instantiate(self, expr: str) -> "Signature":
        """The signature of the instantiation ``expr`` (``"k<double>"``): template parameters
        replaced by the expression's arguments (or their defaults) in every parameter type.
        Parameters that still name an unknown type stay unknown (size None)."""
        if not self.template:
            return self
        args = template_args(expr)
        if args is None:
            return self
        subst = {}
        for k, (name, default) in enumerate(self.template):
            value = args[k] if k < len(args) else default
            if name and value is not None:
                subst[name] = _TOKEN.findall(value)
        params = tuple(dataclasses.replace(_param(toks, p.decl, subst), written=p.written)
                       for toks, p in zip(self._toks, self.params))
        return Signature(self.name, params, None, self._toks)


def template_args(expr: str) -> list[str] | None:
    """``"k<float, gpuad::Dual<double, 2>>"`` -> ``["float", "gpuad::Dual<double, 2>"]``;
    ``[]`` without ``<...>``; None if it cannot be read."""
    if "<" not in expr:
        return []
    toks = _TOKEN.findall(expr)
    lo = toks.index("<")
    hi = _angle_end(toks, lo)
    if hi != len(toks) - 1:
        return None
    return [" ".join(toks[a:b]).replace(" :: ", "::").replace(" < ", "<").replace(" >", ">").replace(" ,", ",")
            for a, b in _split(toks, lo + 1, hi)]


def _base_type(words: list[str]) -> str:
    words = [w for w in words if w not in _NOISE]
    while words[:1] == ["::"] or words[:2] == ["std", "::"]:
        words = words[2:] if words[0] == "std" else words[1:]
    return " ".join(words).replace(" :: ", "::").replace(" < ", "<").replace(" >", ">").replace(" ,", ",")


def _param(toks: Sequence[str], decl: str, subst: dict | None = None) -> Param:
    """A :class:`Param` from a parameter's tokens (template names replaced per ``subst``)."""
    p = _read_param(toks, decl, subst)
    return dataclasses.replace(p, written=p.type)


def _read_param(toks: Sequence[str], decl: str, subst: dict | None) -> Param:
    words: list[str] = []
    i = 0
    while i < len(toks):
        t = toks[i]
        if t in _ATTRIBUTE_CALLS and i + 1 < len(toks) and toks[i + 1] == "(":
            depth, i = 0, i + 1
            while i < len(toks):  # skip the attribute's (...)
                depth += toks[i] == "("
                depth -= toks[i] == ")"
                i += 1
                if depth == 0:
                    break
            continue
        if t == "=":
            break  # a default argument
        words.extend(subst.get(t, [t]) if subst else [t])
        i += 1
    array = "[" in words
    if array:
        words = words[:words.index("[")]
    name = ""
    if (len(words) > 1 and IDENT.fullmatch(words[-1]) and words[-1] not in _NOISE
            and " ".join(words[-2:]) not in SCALARS and words[-1] not in SCALARS):
        name, words = words[-1], words[:-1]
    unknown = Param(decl, name, " ".join(words), False, False, None)
    if not words or "&" in words or "&&" in words or "(" in words:
        return unknown
    pointer = array or "*" in words
    if not pointer:
        base = _base_type(words)
        size, kind = SCALARS.get(base, (None, None))
        return Param(decl, name, base, False, False, size, kind)
    last = len(words) - 1 - words[::-1].index("*") if "*" in words else len(words)
    pointee = words[:last]
    prev = len(pointee) - 1 - pointee[::-1].index("*") if "*" in pointee else -1
    const = "const" in pointee[prev + 1:]
    base = _base_type(pointee)
    elem_size, elem_kind = SCALARS.get(base, (None, None)) if "*" not in pointee else (None, None)
    return Param(decl, name, f"{'const ' if const else ''}{base}*", True, const, None, None,
                 elem_size, elem_kind)


def kernel_signatures(code: str) -> dict[str, Signature | None]:
    """``{bare kernel name: Signature}`` of the ``__global__`` functions in ``code`` (templates
    included); None for a name declared with two different parameter lists (an overload,
    or kernels of the same name in two namespaces)."""
    stripped = strip(code)
    found, _, ms = _globals(stripped)
    toks = [m.group(0) for m in ms]
    out: dict[str, Signature | None] = {}
    for g in found:
        decls = [re.sub(r"\s+", " ", stripped[ms[a].start():ms[b - 1].end()]).strip() for a, b in g.params]
        ptoks = tuple(tuple(toks[a:b]) for a, b in g.params)
        if decls == ["void"]:
            decls, ptoks = [], ()
        sig = Signature(g.name, tuple(_param(t, d) for t, d in zip(ptoks, decls)), g.template, ptoks)
        if g.name in out:
            old = out[g.name]
            # A declaration and its definition may name the parameters differently.
            same = old is not None and [(p.type, p.pointer) for p in old.params] == \
                [(p.type, p.pointer) for p in sig.params] and old.template == sig.template
            out[g.name] = (sig if g.defined else old) if same else None
        else:
            out[g.name] = sig
    return out


def base_name(expr: str) -> str:
    """The bare kernel name of a name expression: ``"ns::k<float, 2>"`` -> ``"k"``."""
    return expr.split("<", 1)[0].strip().rsplit("::", 1)[-1].strip()


def params_of(signatures: dict, expr: str) -> tuple | None:
    """The parameters of kernel ``expr`` (a name or a template instantiation) from
    :func:`kernel_signatures`' result, template arguments substituted; None if unknown."""
    sig = signatures.get(base_name(expr))
    return sig.instantiate(expr).params if sig is not None else None


def kernel_params(code: str) -> dict[str, list[Param] | None]:
    """``{kernel name: [Param, ...]}`` of the ``__global__`` functions in ``code`` (None for
    an overloaded name). For a template kernel the parameters are as written: a ``T*`` is a
    pointer, a ``T`` by value has ``size`` None; :meth:`Signature.instantiate` (through
    :func:`kernel_signatures`) resolves them for one instantiation."""
    return {name: (list(sig.params) if sig is not None else None)
            for name, sig in kernel_signatures(code).items()}
