"""Label and field selectors: parsing, validation and fast matching.

This module owns the kubectl ``-l`` label-selector grammar (k8s.io/apimachinery
pkg/labels/selector.go), the conversion of a metav1 ``LabelSelector`` object
into a selector (LabelSelectorAsSelector), the ``--field-selector`` grammar
(pkg/fields/selector.go), and the label-key/label-value/DNS-1123 validators
with upstream's error wording (pkg/util/validation).

Parsing does the work once: a selector is compiled into plain tuples grouped
by operator, so ``matches`` -- run for every object of a list in the API
server -- is a few dict lookups with no regex and no dispatch.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

__all__ = [
    "FieldSelector",
    "LabelSelector",
    "Requirement",
    "SelectorError",
    "escape_field_value",
    "from_label_selector_obj",
    "parse_field_selector",
    "parse_label_selector",
    "validate_dns1123_label",
    "validate_dns1123_subdomain",
    "validate_label_key",
    "validate_label_value",
]


class SelectorError(ValueError):
    """A label or field selector (or a LabelSelector object) is invalid."""


# --------------------------------------------------------------------------
# Validation, worded as k8s.io/apimachinery/pkg/util/validation words it.
# --------------------------------------------------------------------------

_QNAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_QNAME_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character"
)
_QNAME_MAX = 63
_LABEL_VALUE_FMT = f"({_QNAME_FMT})?"
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, "
    "'-', '_' or '.', and must start and end with an alphanumeric character"
)
_LABEL_VALUE_MAX = 63
_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters "
    "or '-', and must start and end with an alphanumeric character"
)
_DNS1123_LABEL_MAX = 63
_DNS1123_SUBDOMAIN_FMT = _DNS1123_LABEL_FMT + r"(\." + _DNS1123_LABEL_FMT + ")*"
_DNS1123_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
    "characters, '-' or '.', and must start and end with an alphanumeric character"
)
_DNS1123_SUBDOMAIN_MAX = 253

# fullmatch, not "^...$": Python's "$" would also accept a trailing newline.
_QNAME_RE = re.compile(_QNAME_FMT)
_LABEL_VALUE_RE = re.compile(_LABEL_VALUE_FMT)
_DNS1123_LABEL_RE = re.compile(_DNS1123_LABEL_FMT)
_DNS1123_SUBDOMAIN_RE = re.compile(_DNS1123_SUBDOMAIN_FMT)


def _regex_error(msg: str, fmt: str, *examples: str) -> str:
    # Reproduces upstream RegexError, including its double space before "or".
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    shown = " or ".join(f"'{example}', " for example in examples)
    return f"{msg} (e.g. {shown}regex used for validation is '{fmt}')"


def _max_len_error(length: int) -> str:
    return f"must be no more than {length} characters"


def _byte_len(s: str) -> int:
    # Upstream limits count bytes (Go len), not code points.
    return len(s) if s.isascii() else len(s.encode("utf-8", "surrogatepass"))


def validate_dns1123_label(name: str) -> list[str]:
    """Errors for a lowercase RFC 1123 label (max 63 chars); empty list if valid."""
    errs = []
    if _byte_len(name) > _DNS1123_LABEL_MAX:
        errs.append(_max_len_error(_DNS1123_LABEL_MAX))
    if not _DNS1123_LABEL_RE.fullmatch(name):
        if _DNS1123_SUBDOMAIN_RE.fullmatch(name):
            errs.append("must not contain dots")  # a valid subdomain, so only dots are wrong
        else:
            errs.append(_regex_error(_DNS1123_LABEL_MSG, _DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errs


def validate_dns1123_subdomain(name: str) -> list[str]:
    """Errors for a lowercase RFC 1123 subdomain (max 253 chars); empty list if valid."""
    errs = []
    if _byte_len(name) > _DNS1123_SUBDOMAIN_MAX:
        errs.append(_max_len_error(_DNS1123_SUBDOMAIN_MAX))
    if not _DNS1123_SUBDOMAIN_RE.fullmatch(name):
        errs.append(_regex_error(_DNS1123_SUBDOMAIN_MSG, _DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errs


def validate_label_key(key: str) -> list[str]:
    """Errors for a label key ([prefix/]name, upstream IsQualifiedName); empty if valid."""
    parts = key.split("/")
    if len(parts) > 2:
        return [
            "a qualified name "
            + _regex_error(_QNAME_MSG, _QNAME_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    errs = []
    name = parts[-1]
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs.extend("prefix part " + e for e in validate_dns1123_subdomain(prefix))
    if not name:
        errs.append("name part must be non-empty")
    elif _byte_len(name) > _QNAME_MAX:
        errs.append("name part " + _max_len_error(_QNAME_MAX))
    if not _QNAME_RE.fullmatch(name):
        errs.append("name part " + _regex_error(_QNAME_MSG, _QNAME_FMT, "MyName", "my.name", "123-abc"))
    return errs


def validate_label_value(value: str) -> list[str]:
    """Errors for a label value (empty, or up to 63 chars); empty list if valid."""
    errs = []
    if _byte_len(value) > _LABEL_VALUE_MAX:
        errs.append(_max_len_error(_LABEL_VALUE_MAX))
    if not _LABEL_VALUE_RE.fullmatch(value):
        errs.append(_regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


# --------------------------------------------------------------------------
# Label selector requirements
# --------------------------------------------------------------------------

# Operator spellings are upstream's selection.Operator values.
IN, NOT_IN, EQUALS, DOUBLE_EQUALS, NOT_EQUALS = "in", "notin", "=", "==", "!="
EXISTS, DOES_NOT_EXIST, GREATER_THAN, LESS_THAN = "exists", "!", "gt", "lt"
_BINARY_OPERATORS = (IN, NOT_IN, EQUALS, DOUBLE_EQUALS, NOT_EQUALS, GREATER_THAN, LESS_THAN)
_OPERATOR_TEXT = {
    EQUALS: "=", DOUBLE_EQUALS: "==", NOT_EQUALS: "!=", GREATER_THAN: ">", LESS_THAN: "<",
    IN: " in ", NOT_IN: " notin ",
}


class Requirement(NamedTuple):
    """One ANDed term of a label selector: key, operator, values."""

    key: str
    operator: str
    values: tuple[str, ...] = ()

    def __str__(self) -> str:
        if self.operator == EXISTS:
            return self.key
        if self.operator == DOES_NOT_EXIST:
            return "!" + self.key
        values = ",".join(sorted(self.values))  # upstream sorts on output only
        if self.operator in (IN, NOT_IN):
            values = f"({values})"
        return self.key + _OPERATOR_TEXT[self.operator] + values


def _parse_int64(s: Any) -> int | None:
    """Go strconv.ParseInt(s, 10, 64): [+-]digits within int64, else None."""
    if not isinstance(s, str):
        return None
    body = s[1:] if s[:1] in ("+", "-") else s
    # isascii + isdigit: only 0-9; int() alone would take "1_0", " 1", "١".
    if not body or not body.isascii() or not body.isdigit() or len(body.lstrip("0")) > 19:
        return None
    n = int(s)
    return n if -(2**63) <= n < 2**63 else None


def _value_count_error(op: str, values: tuple[str, ...]) -> list[str]:
    n = len(values)
    if op in (IN, NOT_IN):
        return [] if n else ["for 'in', 'notin' operators, values set can't be empty"]
    if op in (EQUALS, DOUBLE_EQUALS, NOT_EQUALS):
        return [] if n == 1 else ["exact-match compatibility requires one single value"]
    if op in (EXISTS, DOES_NOT_EXIST):
        return [] if n == 0 else ["values set must be empty for exists and does not exist"]
    if op in (GREATER_THAN, LESS_THAN):
        errs = [] if n == 1 else ["for 'Gt', 'Lt' operators, exactly one value is required"]
        if any(_parse_int64(v) is None for v in values):
            errs.append("for 'Gt', 'Lt' operators, the value must be an integer")
        return errs
    supported = ", ".join(f'"{o}"' for o in _BINARY_OPERATORS + (EXISTS, DOES_NOT_EXIST))
    return [f'Unsupported value: "{op}": supported values: {supported}']


def _new_requirement(key: Any, op: str, values: Iterable[Any]) -> Requirement:
    """Validate like upstream NewRequirement and build the Requirement."""
    values = tuple(values)
    if not isinstance(key, str) or not all(isinstance(v, str) for v in values):
        raise SelectorError(f"label keys and values must be strings: {key!r} {op} {list(values)!r}")
    errs = []
    key_errs = validate_label_key(key)
    if key_errs:
        errs.append(f'invalid label key "{key}": ' + "; ".join(key_errs))
    errs.extend(_value_count_error(op, values))
    for v in values:
        value_errs = validate_label_value(v)
        if value_errs:
            errs.append(f'invalid label value "{v}" for key "{key}": ' + "; ".join(value_errs))
    if errs:
        raise SelectorError("; ".join(errs))
    return Requirement(key, op, values)


# --------------------------------------------------------------------------
# LabelSelector
# --------------------------------------------------------------------------

_MISSING = object()
_EMPTY: Mapping[str, str] = {}


class LabelSelector:
    """An AND of label requirements, compiled for fast ``matches``.

    ``LabelSelector.everything()`` (no requirements) matches every object;
    ``LabelSelector.nothing()`` -- what a nil metav1 selector means -- matches none.
    """

    __slots__ = ("_requirements", "_nothing", "_in", "_not_in", "_exists", "_absent", "_compare")

    def __init__(self, requirements: Iterable[Requirement] = (), *, nothing: bool = False):
        # Stable sort by key: upstream sorts by key for a deterministic String().
        self._requirements = tuple(sorted(requirements, key=lambda r: r.key))
        self._nothing = nothing
        self._compile()

    def _compile(self) -> None:
        # Group by operator so matches() runs one tight loop per kind and never
        # dispatches on the operator per object.
        self._in, self._not_in, self._exists, self._absent, self._compare = [], [], [], [], []
        for r in self._requirements:
            if r.operator in (IN, EQUALS, DOUBLE_EQUALS):
                self._in.append((r.key, frozenset(r.values)))
            elif r.operator in (NOT_IN, NOT_EQUALS):
                self._not_in.append((r.key, frozenset(r.values)))
            elif r.operator == EXISTS:
                self._exists.append(r.key)
            elif r.operator == DOES_NOT_EXIST:
                self._absent.append(r.key)
            else:
                bound = _parse_int64(r.values[0]) if len(r.values) == 1 else None
                self._compare.append((r.key, r.operator == GREATER_THAN, bound))
        for name in ("_in", "_not_in", "_exists", "_absent", "_compare"):
            setattr(self, name, tuple(getattr(self, name)))

    @classmethod
    def everything(cls) -> LabelSelector:
        return cls()

    @classmethod
    def nothing(cls) -> LabelSelector:
        return cls(nothing=True)

    @property
    def requirements(self) -> tuple[Requirement, ...]:
        return self._requirements

    @property
    def empty(self) -> bool:
        """True if the selector does not restrict anything (matches everything)."""
        return not self._nothing and not self._requirements

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        """Whether an object with these labels is selected (None means no labels)."""
        if not self._requirements:
            return not self._nothing
        if labels is None:
            labels = _EMPTY
        get = labels.get
        for key, allowed in self._in:
            if get(key, _MISSING) not in allowed:
                return False
        for key, banned in self._not_in:
            if get(key, _MISSING) in banned:  # an absent key satisfies notin / !=
                return False
        for key in self._exists:
            if key not in labels:
                return False
        for key in self._absent:
            if key in labels:
                return False
        for key, greater, bound in self._compare:
            if not _compare(get(key), greater, bound):
                return False
        return True

    def __str__(self) -> str:
        return ",".join(str(r) for r in self._requirements)

    def __repr__(self) -> str:
        if self._nothing:
            return "LabelSelector.nothing()"
        return f"LabelSelector({str(self)!r})"

    def __eq__(self, other):
        if not isinstance(other, LabelSelector):
            return NotImplemented
        return (self._nothing, self._requirements) == (other._nothing, other._requirements)

    def __hash__(self):
        return hash((self._nothing, self._requirements))


def _compare(label_value: Any, greater: bool, bound: int | None) -> bool:
    value = _parse_int64(label_value)
    if value is None or bound is None:
        return False  # upstream: an unparsable label never satisfies gt/lt
    return value > bound if greater else value < bound


# --------------------------------------------------------------------------
# Label selector parser (kubectl -l syntax)
# --------------------------------------------------------------------------

# Token kinds; upstream's lexer tokens.
_EOS, _IDENT, _OPEN, _CLOSE, _COMMA, _NOT = "EOS", "IDENT", "(", ")", ",", "!"
_T_EQ, _T_DEQ, _T_NEQ, _T_GT, _T_LT, _T_IN, _T_NOTIN = "=", "==", "!=", ">", "<", "in", "notin"
_SYMBOLS = {"(": _OPEN, ")": _CLOSE, ",": _COMMA, "!": _NOT, "=": _T_EQ, ">": _T_GT, "<": _T_LT,
            "==": _T_DEQ, "!=": _T_NEQ}
_KEYWORDS = {"in": _T_IN, "notin": _T_NOTIN}
_SPECIAL = frozenset("=!(),><")
_WHITESPACE = frozenset(" \t\r\n")
_TOKEN_OPERATORS = {_T_IN: IN, _T_NOTIN: NOT_IN, _T_EQ: EQUALS, _T_DEQ: DOUBLE_EQUALS,
                    _T_NEQ: NOT_EQUALS, _T_GT: GREATER_THAN, _T_LT: LESS_THAN}


def _lex(s: str) -> list[tuple[str, str]]:
    """Split a selector into (kind, literal) tokens, ending with EOS."""
    tokens, i, n = [], 0, len(s)
    while True:
        while i < n and s[i] in _WHITESPACE:
            i += 1
        if i >= n:
            tokens.append((_EOS, ""))
            return tokens
        if s[i] in _SPECIAL:
            # Longest match; the only two-character symbols are "==" and "!=".
            lit = s[i:i + 2] if s[i:i + 2] in ("==", "!=") else s[i]
            tokens.append((_SYMBOLS[lit], lit))
            i += len(lit)
            continue
        j = i
        while j < n and s[j] not in _SPECIAL and s[j] not in _WHITESPACE:
            j += 1
        lit = s[i:j]
        tokens.append((_KEYWORDS.get(lit, _IDENT), lit))
        i = j


class _LabelParser:
    """Recursive-descent parser mirroring upstream's, error messages included."""

    def __init__(self, selector: str):
        self.tokens = _lex(selector)
        self.pos = 0

    def peek(self, values: bool = True) -> tuple[str, str]:
        return self._kind(self.tokens[self.pos], values)

    def take(self, values: bool = True) -> tuple[str, str]:
        token = self.tokens[self.pos]
        self.pos += 1
        return self._kind(token, values)

    @staticmethod
    def _kind(token: tuple[str, str], values: bool) -> tuple[str, str]:
        # Where a value (or key) is expected, "in"/"notin" are plain identifiers.
        kind, lit = token
        if values and kind in (_T_IN, _T_NOTIN):
            return _IDENT, lit
        return kind, lit

    def parse(self) -> list[Requirement]:
        requirements = []
        while True:
            kind, lit = self.peek()
            if kind == _EOS:
                return requirements
            if kind not in (_IDENT, _NOT):
                raise SelectorError(f"found '{lit}', expected: !, identifier, or 'end of string'")
            requirements.append(self.requirement())
            kind, lit = self.take()
            if kind == _EOS:
                return requirements
            if kind != _COMMA:
                raise SelectorError(f"found '{lit}', expected: ',' or 'end of string'")
            kind, lit = self.peek()
            if kind not in (_IDENT, _NOT):
                raise SelectorError(f"found '{lit}', expected: identifier after ','")

    def requirement(self) -> Requirement:
        try:
            key, op = self.key_and_inferred_operator()
            if op is None:
                op = self.operator()
                values = self.value_set() if op in (IN, NOT_IN) else self.exact_value()
            else:
                values = []
            return _new_requirement(key, op, sorted(set(values)))
        except SelectorError as err:
            raise SelectorError(f"unable to parse requirement: {err}") from None

    def key_and_inferred_operator(self) -> tuple[str, str | None]:
        kind, lit = self.take()
        negated = kind == _NOT
        if negated:
            kind, lit = self.take()
        if kind != _IDENT:
            raise SelectorError(f"found '{lit}', expected: identifier")
        key_errs = validate_label_key(lit)
        if key_errs:
            raise SelectorError(f'invalid label key "{lit}": ' + "; ".join(key_errs))
        if negated:
            return lit, DOES_NOT_EXIST
        if self.peek()[0] in (_EOS, _COMMA):
            return lit, EXISTS
        return lit, None

    def operator(self) -> str:
        kind, lit = self.take(values=False)
        if kind not in _TOKEN_OPERATORS:
            raise SelectorError(f"found '{lit}', expected: {', '.join(_BINARY_OPERATORS)}")
        return _TOKEN_OPERATORS[kind]

    def value_set(self) -> list[str]:
        kind, lit = self.take()
        if kind != _OPEN:
            raise SelectorError(f"found '{lit}' expected: '('")
        kind, lit = self.peek()
        if kind == _CLOSE:  # "()" is the set holding the empty string
            self.take()
            return [""]
        if kind not in (_IDENT, _COMMA):
            raise SelectorError(f"found '{lit}', expected: ',', ')' or identifier")
        values = self.identifier_list()
        kind, lit = self.take()
        if kind != _CLOSE:
            raise SelectorError(f"found '{lit}', expected: ')'")
        return values

    def identifier_list(self) -> list[str]:
        # Empty entries ("(a,,b)", "(,a)", "(a,)") stand for the empty string.
        values: list[str] = []
        while True:
            kind, lit = self.take()
            if kind == _IDENT:
                values.append(lit)
                next_kind, next_lit = self.peek()
                if next_kind == _CLOSE:
                    return values
                if next_kind != _COMMA:
                    raise SelectorError(f"found '{next_lit}', expected: ',' or ')'")
            elif kind == _COMMA:
                if not values:
                    values.append("")
                next_kind = self.peek()[0]
                if next_kind == _CLOSE:
                    values.append("")
                    return values
                if next_kind == _COMMA:
                    self.take()
                    values.append("")
            else:
                raise SelectorError(f"found '{lit}', expected: ',', or identifier")

    def exact_value(self) -> list[str]:
        if self.peek()[0] in (_EOS, _COMMA):
            return [""]  # "a=" selects the empty value
        kind, lit = self.take()
        if kind != _IDENT:
            raise SelectorError(f"found '{lit}', expected: identifier")
        return [lit]


def parse_label_selector(s: str) -> LabelSelector:
    """Parse the kubectl ``-l`` syntax, e.g. ``"app=web,tier in (a,b),!canary"``."""
    if not isinstance(s, str):
        raise SelectorError(f"label selector must be a string, not {type(s).__name__}")
    return LabelSelector(_LabelParser(s).parse())


# --------------------------------------------------------------------------
# metav1.LabelSelector objects
# --------------------------------------------------------------------------

_EXPRESSION_OPERATORS = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS, "DoesNotExist": DOES_NOT_EXIST}


def _field(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)


def from_label_selector_obj(obj: Any) -> LabelSelector:
    """Convert a metav1 LabelSelector (dict or protobuf-like object) to a selector.

    As upstream LabelSelectorAsSelector: None selects nothing, an empty
    selector selects everything.
    """
    if obj is None:
        return LabelSelector.nothing()
    match_labels = _field(obj, "matchLabels") or {}
    expressions = _field(obj, "matchExpressions") or ()
    if not isinstance(match_labels, Mapping):
        raise SelectorError("matchLabels must be a mapping of label keys to values")
    requirements = [_new_requirement(k, EQUALS, [v]) for k, v in sorted(match_labels.items())]
    for expr in expressions:
        operator = _field(expr, "operator")
        if operator not in _EXPRESSION_OPERATORS:
            raise SelectorError(f'"{operator}" is not a valid label selector operator')
        values = _field(expr, "values") or ()
        requirements.append(_new_requirement(_field(expr, "key"), _EXPRESSION_OPERATORS[operator], values))
    return LabelSelector(requirements)


# --------------------------------------------------------------------------
# Field selectors
# --------------------------------------------------------------------------


def escape_field_value(value: str) -> str:
    """Escape ``\\``, ``,`` and ``=`` so a value can sit in a field selector."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def _unescape_field_value(s: str) -> str:
    if "\\" not in s and "," not in s and "=" not in s:
        return s
    out, escaped = [], False
    for c in s:
        if escaped:
            if c not in "\\,=":
                raise SelectorError(f"invalid field selector: invalid escape sequence: \\{c}")
            out.append(c)
            escaped = False
        elif c == "\\":
            escaped = True
        elif c in ",=":
            raise SelectorError(f"invalid field selector: unescaped character in value: {c}")
        else:
            out.append(c)
    if escaped:
        raise SelectorError("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def _split_terms(s: str) -> list[str]:
    """Split on commas that are not backslash-escaped (escapes are kept)."""
    terms, start, escaped = [], 0, False
    for i, c in enumerate(s):
        if escaped:
            escaped = False
        elif c == "\\":
            escaped = True
        elif c == ",":
            terms.append(s[start:i])
            start = i + 1
    terms.append(s[start:])
    return terms


def _split_term(term: str) -> tuple[str, str, str] | None:
    # The key has no escaping, so the first operator occurrence splits; "!="
    # and "==" are tried before "=" so "a==b" does not leave "=b" as the value.
    for i in range(len(term)):
        for op in ("!=", "==", "="):
            if term.startswith(op, i):
                return term[:i], op, term[i + len(op):]
    return None


class FieldSelector:
    """An AND of ``field=value`` / ``field!=value`` terms over flat field maps.

    A field absent from the map compares as "" (upstream Fields.Get).
    """

    __slots__ = ("_requirements", "_equal", "_not_equal")

    def __init__(self, requirements: Iterable[tuple[str, str, str]] = ()):
        self._requirements = [tuple(r) for r in requirements]
        self._equal = tuple((f, v) for f, op, v in self._requirements if op == "=")
        self._not_equal = tuple((f, v) for f, op, v in self._requirements if op == "!=")

    @property
    def requirements(self) -> list[tuple[str, str, str]]:
        """(field, op, value) terms, op being "=" or "!=", for support checks."""
        return list(self._requirements)

    @property
    def empty(self) -> bool:
        return not self._requirements

    def matches(self, fields: Mapping[str, str]) -> bool:
        get = fields.get
        for name, value in self._equal:
            if get(name, "") != value:
                return False
        for name, value in self._not_equal:
            if get(name, "") == value:
                return False
        return True

    def requires_exact_match(self, field: str) -> str | None:
        """The value an ``=`` term pins ``field`` to, or None (upstream RequiresExactMatch)."""
        for name, value in self._equal:
            if name == field:
                return value
        return None

    def __str__(self) -> str:
        return ",".join(f"{f}{op}{escape_field_value(v)}" for f, op, v in self._requirements)

    def __repr__(self) -> str:
        return f"FieldSelector({str(self)!r})"

    def __eq__(self, other):
        if not isinstance(other, FieldSelector):
            return NotImplemented
        return self._requirements == other._requirements

    def __hash__(self):
        return hash(tuple(self._requirements))


def parse_field_selector(s: str) -> FieldSelector:
    """Parse ``--field-selector`` syntax, e.g. ``"spec.nodeName=n1,status.phase!=Failed"``."""
    if not isinstance(s, str):
        raise SelectorError(f"field selector must be a string, not {type(s).__name__}")
    requirements = []
    for part in sorted(_split_terms(s)):  # upstream sorts terms for a stable String()
        if not part:
            continue
        split = _split_term(part)
        if split is None:
            raise SelectorError(f"invalid selector: '{s}'; can't understand '{part}'")
        name, op, raw = split
        # "==" and "=" are the same term upstream (hasTerm), printed as "=".
        requirements.append((name, "!=" if op == "!=" else "=", _unescape_field_value(raw)))
    return FieldSelector(requirements)
