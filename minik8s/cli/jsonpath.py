"""kubectl's JSONPath templates (k8s.io/client-go/util/jsonpath), the commonly used subset: text with
`{...}` actions; fields `.a.b`, `['a.b']`, escaped dots `a\\.b`; `*`; indexes and slices `[0]`,
`[-1]`, `[1:3]`; unions `[0,2]`; recursive descent `..name`; filters `[?(@.name=="x")]` with ==, !=,
<, <=, >, >= or bare existence; `{range EXPR}...{end}`; string literals `{"\\n"}`; `$` and `@`.

As in `kubectl get -o jsonpath`, a missing key prints nothing (allowMissingKeys); several results of
one expression print separated by spaces; maps and lists print as JSON."""
from __future__ import annotations

import json
import re
from typing import Any


class JSONPathError(ValueError):
    pass


_MISSING = object()


# ---------------------------------------------------------------- parsing
def _split_actions(template: str) -> list[tuple[str, str]]:
    """[("text", s) | ("action", s)] from a template."""
    out: list[tuple[str, str]] = []
    i, n = 0, len(template)
    buf = []
    while i < n:
        ch = template[i]
        if ch != "{":
            buf.append(ch)
            i += 1
            continue
        if buf:
            out.append(("text", "".join(buf)))
            buf = []
        j, quote, depth = i + 1, None, 1
        while j < n:
            c = template[j]
            if quote:
                if c == "\\":
                    j += 2
                    continue
                if c == quote:
                    quote = None
            elif c in "\"'":
                quote = c
            elif c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        if j >= n:
            raise JSONPathError(f"unclosed action in {template!r}")
        out.append(("action", template[i + 1:j]))
        i = j + 1
    if buf:
        out.append(("text", "".join(buf)))
    return out


def _unquote(s: str) -> str:
    body = s[1:-1]
    if s[0] == '"':
        try:
            return json.loads(s)
        except ValueError:
            pass
    return (body.replace("\\n", "\n").replace("\\t", "\t").replace("\\r", "\r")
            .replace('\\"', '"').replace("\\'", "'").replace("\\\\", "\\"))


_NUM = re.compile(r"^-?\d+(\.\d+)?$")


def _parse_value(tok: str):
    tok = tok.strip()
    if tok[:1] in "\"'" and tok[-1:] == tok[:1] and len(tok) >= 2:
        return ("lit", _unquote(tok))
    if _NUM.match(tok):
        return ("lit", float(tok) if "." in tok else int(tok))
    if tok in ("true", "false"):
        return ("lit", tok == "true")
    if tok == "null":
        return ("lit", None)
    if tok.startswith("@") or tok.startswith("$") or tok.startswith("."):
        return ("path", parse_expr(tok))
    raise JSONPathError(f"unrecognized filter operand {tok!r}")


def _parse_filter(body: str):
    for op in ("==", "!=", "<=", ">=", "<", ">"):
        idx = _find_op(body, op)
        if idx >= 0:
            return ("filter", _parse_value(body[:idx]), op, _parse_value(body[idx + len(op):]))
    return ("filter", _parse_value(body), None, None)


def _find_op(s: str, op: str) -> int:
    quote = None
    i = 0
    while i < len(s):
        c = s[i]
        if quote:
            if c == "\\":
                i += 2
                continue
            if c == quote:
                quote = None
        elif c in "\"'":
            quote = c
        elif s.startswith(op, i):
            if op in ("<", ">") and s.startswith("=", i + 1):
                i += 2
                continue
            return i
        i += 1
    return -1


def _parse_bracket(body: str):
    body = body.strip()
    if body == "*":
        return ("wild",)
    if body.startswith("?(") and body.endswith(")"):
        return _parse_filter(body[2:-1])
    parts = _split_top(body, ",")
    if all(p.strip()[:1] in "\"'" for p in parts):
        return ("keys", [_unquote(p.strip()) for p in parts])
    if len(parts) == 1 and ":" in body:
        nums = body.split(":")
        if len(nums) > 3:
            raise JSONPathError(f"invalid slice [{body}]")
        vals = [int(x) if x.strip() else None for x in nums] + [None] * (3 - len(nums))
        return ("slice", vals[0], vals[1], vals[2])
    try:
        return ("index", [int(p) for p in parts])
    except ValueError:
        raise JSONPathError(f"invalid array index [{body}]") from None


def _split_top(s: str, sep: str) -> list[str]:
    out, buf, quote = [], [], None
    for c in s:
        if quote:
            buf.append(c)
            if c == quote:
                quote = None
            continue
        if c in "\"'":
            quote = c
        if c == sep:
            out.append("".join(buf))
            buf = []
        else:
            buf.append(c)
    out.append("".join(buf))
    return out


def parse_expr(expr: str) -> list[tuple]:
    """Steps of one path expression."""
    steps: list[tuple] = []
    s = expr.strip()
    i, n = 0, len(s)
    if s.startswith("$"):
        steps.append(("root",))
        i = 1
    elif s.startswith("@"):
        i = 1
    first = True
    while i < n:
        c = s[i]
        if c == ".":
            recursive = s.startswith("..", i)
            i += 2 if recursive else 1
            if recursive:
                steps.append(("recurse",))
            if i < n and s[i] == "[":
                continue
            name, i = _read_name(s, i)
            if name == "*":
                steps.append(("wild",))
            elif name:
                steps.append(("field", name))
        elif c == "[":
            j, quote, depth = i + 1, None, 1
            while j < n:
                ch = s[j]
                if quote:
                    if ch == "\\":
                        j += 2
                        continue
                    if ch == quote:
                        quote = None
                elif ch in "\"'":
                    quote = ch
                elif ch == "[":
                    depth += 1
                elif ch == "]":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            if j >= n:
                raise JSONPathError(f"unterminated array in {expr!r}")
            steps.append(_parse_bracket(s[i + 1:j]))
            i = j + 1
        elif first and not c.isspace():
            name, i = _read_name(s, i)          # a bare first name: `items[0]`
            steps.append(("field", name))
        elif c.isspace():
            i += 1
        else:
            raise JSONPathError(f"unrecognized character in action: {c!r} in {expr!r}")
        first = False
    return steps


def _read_name(s: str, i: int) -> tuple[str, int]:
    buf = []
    n = len(s)
    while i < n:
        c = s[i]
        if c == "\\" and i + 1 < n:
            buf.append(s[i + 1])
            i += 2
            continue
        if c in ".[" or c.isspace():
            break
        buf.append(c)
        i += 1
    return "".join(buf), i


def parse(template: str) -> list[tuple]:
    """Nodes: ("text", s) | ("expr", steps) | ("range", steps, body)."""
    root: list[tuple] = []
    stack = [root]
    ranges: list[list] = []
    for kind, s in _split_actions(template):
        if kind == "text":
            stack[-1].append(("text", s))
            continue
        a = s.strip()
        if a == "end":
            if len(stack) == 1:
                raise JSONPathError("not in range, nothing to end")
            stack.pop()
            ranges.pop()
            continue
        if a.startswith("range ") or a.startswith("range\t"):
            body: list[tuple] = []
            node = ("range", parse_expr(a[6:]), body)
            stack[-1].append(node)
            stack.append(body)
            ranges.append(body)
            continue
        if a[:1] in "\"'" and a[-1:] == a[:1] and len(a) >= 2:
            stack[-1].append(("text", _unquote(a)))
            continue
        if not a:
            continue
        stack[-1].append(("expr", parse_expr(a)))
    if len(stack) != 1:
        raise JSONPathError("range without end")
    return root


# ---------------------------------------------------------------- evaluation
def _walk_all(v, out):
    out.append(v)
    if isinstance(v, dict):
        for k in v:
            _walk_all(v[k], out)
    elif isinstance(v, list):
        for x in v:
            _walk_all(x, out)


def _compare(a, op, b) -> bool:
    if op == "==":
        return a == b
    if op == "!=":
        return a != b
    try:
        if isinstance(a, str) != isinstance(b, str):
            return False
        return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
    except TypeError:
        return False


def _operand(spec, cur, root):
    kind, val = spec
    if kind == "lit":
        return [val]
    return _eval(val, [cur], root)


def _eval(steps, values: list, root) -> list:
    for step in steps:
        kind = step[0]
        nxt = []
        if kind == "root":
            values = [root]
            continue
        if kind == "recurse":
            for v in values:
                _walk_all(v, nxt)
            values = nxt
            continue
        for v in values:
            if kind == "field":
                if isinstance(v, dict) and step[1] in v:
                    nxt.append(v[step[1]])
            elif kind == "keys":
                if isinstance(v, dict):
                    nxt.extend(v[k] for k in step[1] if k in v)
            elif kind == "wild":
                if isinstance(v, dict):
                    nxt.extend(v[k] for k in sorted(v))
                elif isinstance(v, list):
                    nxt.extend(v)
            elif kind == "index":
                if isinstance(v, list):
                    for i in step[1]:
                        if -len(v) <= i < len(v):
                            nxt.append(v[i])
            elif kind == "slice":
                if isinstance(v, list):
                    nxt.extend(v[slice(step[1], step[2], step[3])])
            elif kind == "filter":
                if isinstance(v, list):
                    _, left, op, right = step
                    for item in v:
                        lv = _operand(left, item, root)
                        if op is None:
                            if lv and lv[0] is not None and lv[0] is not False:
                                nxt.append(item)
                            continue
                        rv = _operand(right, item, root)
                        if lv and rv and _compare(lv[0], op, rv[0]):
                            nxt.append(item)
        values = nxt
    return values


def format_value(v: Any) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if v is None:
        return ""
    if isinstance(v, (dict, list)):
        return json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return str(v)


class Template:
    def __init__(self, text: str):
        self.text = text
        self.nodes = parse(text)

    def find(self, data) -> list:
        """All results of the template's expressions, flattened (for custom columns, --sort-by, wait)."""
        out: list = []
        self._run(self.nodes, data, data, None, out)
        return out

    def render(self, data) -> str:
        parts: list[str] = []
        self._run(self.nodes, data, data, parts, None)
        return "".join(parts)

    def _run(self, nodes, cur, root, parts, found):
        for node in nodes:
            kind = node[0]
            if kind == "text":
                if parts is not None:
                    parts.append(node[1])
            elif kind == "expr":
                vals = _eval(node[1], [cur], root)
                if parts is not None:
                    parts.append(" ".join(format_value(v) for v in vals))
                if found is not None:
                    found.extend(vals)
            else:
                for v in _eval(node[1], [cur], root):
                    self._run(node[2], v, root, parts, found)


def compile(template: str) -> Template:  # noqa: A001 - mirrors re.compile
    return Template(template)


def relaxed(expr: str) -> str:
    """kubectl's RelaxedJSONPathExpression: `.a.b`, `a.b` and `{.a.b}` all mean `{.a.b}`."""
    e = expr.strip()
    if e.startswith("{") and e.endswith("}"):
        e = e[1:-1]
    if e and not e.startswith((".", "$", "@", "[")):
        e = "." + e
    return "{" + e + "}"
