"""Output for `minictl get`: kubectl's tables laid out by a port of Go's text/tabwriter (the columns
and cells come from minik8s.api.printing, the same ones the API server serves kubectl as a Table; -o
wide shows the priority-1 columns), and the -o formats json, yaml, name, jsonpath and custom-columns.

Table rows are computed from the protobuf messages directly; only -o json/yaml/jsonpath convert to
the Kubernetes JSON form."""
from __future__ import annotations

import json
import sys
from typing import Any

from minik8s.api.printing import table_for
# the cell formatters describe and the other verbs print with
from minik8s.api.printing.cells import (format_labels, format_selector, human_duration, int_or_string,  # noqa: F401
                                        parse_time, since)
from minik8s.api.printing.cluster import node_roles  # noqa: F401

# kubectl's printers.GetNewTabWriter: minwidth 6, tabwidth 4, padding 3, pad with spaces
TABLE_MINWIDTH, TABLE_PADDING = 6, 3


# ---------------------------------------------------------------- Go text/tabwriter
def tabwrite(lines: list[str], minwidth: int = TABLE_MINWIDTH, padding: int = TABLE_PADDING) -> str:
    """Align tab-separated cells as Go's text/tabwriter does (flags 0, space padding): a column
    runs over consecutive lines that have a cell there; the last cell of a line is not aligned."""
    cells = [line.split("\t") for line in lines]
    out: list[str] = []
    widths: list[int] = []

    def write(a: int, b: int) -> None:
        n = len(widths)
        for i in range(a, b):
            row = cells[i]
            parts = []
            for j, c in enumerate(row):
                parts.append(c.ljust(widths[j]) if j < n and j < len(row) - 1 else c)
            out.append("".join(parts))

    def fmt(line0: int, line1: int) -> None:
        column = len(widths)
        this = line0
        while this < line1:
            if column >= len(cells[this]) - 1:
                this += 1
                continue
            write(line0, this)
            line0 = this
            width = minwidth
            while this < line1 and column < len(cells[this]) - 1:
                width = max(width, len(cells[this][column]) + padding)
                this += 1
            widths.append(width)
            fmt(line0, this)
            widths.pop()
            line0 = this
        write(line0, line1)

    fmt(0, len(cells))
    return "\n".join(out)


class Table:
    """Header and rows for one kind: its priority-0 columns, or all of them with -o wide, plus
    kubectl's optional NAMESPACE, label and LABELS columns."""

    def __init__(self, info, wide: bool = False, namespace_column: bool = False, show_labels: bool = False,
                 with_kind: bool = False, label_columns: list[str] | None = None):
        self.info = info
        kind_table = table_for(info)
        self.fn = kind_table.row
        shown = [(i, c) for i, c in enumerate(kind_table.columns) if wide or c.priority == 0]
        self.shown = None if len(shown) == len(kind_table.columns) else [i for i, _ in shown]
        self.namespace_column = namespace_column
        self.show_labels = show_labels
        self.with_kind = with_kind
        self.label_columns = label_columns or []
        self.header = (["NAMESPACE"] if namespace_column else []) + [c.name.upper() for _, c in shown] + \
            [c.rsplit("/", 1)[-1].upper() for c in self.label_columns] + (["LABELS"] if show_labels else [])
        self.name_index = next((j for j, (_, c) in enumerate(shown) if c.format == "name"), None)

    def row(self, obj, now: float | None = None) -> list[str]:
        cells = self.fn(obj, now)
        if self.shown is not None:
            cells = [cells[i] for i in self.shown]
        if self.with_kind and self.name_index is not None:
            cells[self.name_index] = f"{self.info.resource}/{cells[self.name_index]}"
        if self.namespace_column:
            cells.insert(0, obj.metadata.namespace)
        labels = obj.metadata.labels
        for key in self.label_columns:
            cells.append(labels.get(key, ""))
        if self.show_labels:
            cells.append(format_labels(labels))
        return cells


def render_table(header: list[str] | None, rows: list[list[str]]) -> str:
    lines = ["\t".join(header)] if header else []
    lines.extend("\t".join(r) for r in rows)
    return tabwrite(lines)


# ---------------------------------------------------------------- -o formats
def to_json_obj(obj, info=None) -> dict:
    from minik8s.api.codec import to_dict
    d = to_dict(obj)
    if info is not None:
        d.setdefault("apiVersion", info.api_version)
        d.setdefault("kind", info.kind)
    return d


def list_doc(items: list[dict]) -> dict:
    return {"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}}


def dump_json(doc: Any) -> str:
    return json.dumps(doc, indent=4, sort_keys=True, ensure_ascii=False)


_DUMPER = None


def dump_yaml(doc: Any) -> str:
    """YAML as kubectl prints it: keys sorted, block style, multi-line strings as `|` blocks."""
    global _DUMPER
    import yaml
    if _DUMPER is None:
        base = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

        class _Dumper(base):  # type: ignore[misc, valid-type]
            pass

        def _str(dumper, data):
            if "\n" in data:
                return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
            if data and dumper.resolve(yaml.ScalarNode, data, (True, False)) != "tag:yaml.org,2002:str":
                # a string that would read back as a number, bool or time: double quotes, as go-yaml
                return dumper.represent_scalar("tag:yaml.org,2002:str", data, style='"')
            return dumper.represent_scalar("tag:yaml.org,2002:str", data)

        _Dumper.add_representer(str, _str)
        _DUMPER = _Dumper
    return yaml.dump(doc, Dumper=_DUMPER, default_flow_style=False, sort_keys=True, allow_unicode=True,
                     width=1 << 30)


def resource_name(info, obj) -> str:
    """`-o name`: `pod/web-1`, `deployment.apps/web`."""
    return f"{info.resource}/{obj.metadata.name}"


def print_result(fmt: str | None, info, obj, verb: str) -> None:
    """What a writing verb prints for each object: `TYPE/NAME VERB` (kubectl's "deployment.apps/web
    created"), only the name with -o name, or the whole object with -o json|yaml."""
    if fmt == "name":
        print(resource_name(info, obj))
    elif fmt in ("json", "yaml"):
        doc = to_json_obj(obj, info)
        write(dump_json(doc) if fmt == "json" else dump_yaml(doc))
    else:
        print(f"{resource_name(info, obj)} {verb}")


def parse_output(spec: str | None) -> tuple[str, str]:
    """Split `-o` into (format, argument): `jsonpath={.a}` -> ("jsonpath", "{.a}")."""
    if not spec:
        return "", ""
    fmt, _, arg = spec.partition("=")
    return fmt, arg


OUTPUT_FORMATS = ("json", "yaml", "name", "wide", "jsonpath", "jsonpath-as-json", "custom-columns",
                  "go-template")


def check_output(spec: str | None) -> None:
    fmt, arg = parse_output(spec)
    if fmt and fmt not in OUTPUT_FORMATS[:-1]:
        allowed = "json, yaml, name, wide, jsonpath, jsonpath-as-json, custom-columns"
        raise ValueError(f'unable to match a printer suitable for the output format "{spec}", '
                         f"allowed formats are: {allowed}")
    if fmt in ("jsonpath", "jsonpath-as-json", "custom-columns") and not arg:
        raise ValueError(f"{fmt} template format specified but no template given")


def custom_columns(spec: str, docs: list[dict], no_headers: bool = False) -> str:
    from minik8s.cli import jsonpath
    cols = []
    for part in spec.split(","):
        header, sep, path = part.partition(":")
        if not sep:
            raise ValueError(f'unexpected custom-columns spec: {part}, expected <header>:<json-path-expr>')
        cols.append((header, jsonpath.compile(jsonpath.relaxed(path))))
    rows = []
    for d in docs:
        row = []
        for _, tpl in cols:
            vals = tpl.find(d)
            row.append(",".join(jsonpath.format_value(v) for v in vals) if vals else "<none>")
        rows.append(row)
    return render_table(None if no_headers else [h for h, _ in cols], rows)


def write(text: str, stream=None) -> None:
    stream = stream or sys.stdout
    stream.write(text)
    if text and not text.endswith("\n"):
        stream.write("\n")
