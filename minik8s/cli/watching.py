"""The watch loops minictl commands share: `get -w` (the table, then a row per change) and waiting until
an object meets a condition (`wait`, `delete --wait`), both built on the API's watch so they react as
soon as the server publishes a change, with no polling."""
from __future__ import annotations

import sys
import time

from minik8s.cli.common import CliError, api_error_line, client_for, namespace_of, report, sort_objects


# ---------------------------------------------------------------- printing a stream of rows
class StreamTable:
    """Rows printed as they come, aligned like the first table; a wider cell widens its column for
    the rows after it (kubectl's watch output behaves the same way)."""

    def __init__(self, minwidth: int = 6, padding: int = 3):
        self.widths: list[int] = []
        self.minwidth, self.padding = minwidth, padding

    def emit(self, rows: list[list[str]]) -> None:
        for r in rows:
            for j, c in enumerate(r[:-1]):
                w = max(self.minwidth, len(c) + self.padding)
                if j >= len(self.widths):
                    self.widths.append(w)
                elif w > self.widths[j]:
                    self.widths[j] = w
        out = []
        for r in rows:
            out.append("".join(c.ljust(self.widths[j]) if j < len(r) - 1 else c for j, c in enumerate(r)))
        if out:
            sys.stdout.write("\n".join(out) + "\n")
            sys.stdout.flush()


def get_watch(args, requests) -> int:
    from minik8s.api.errors import ApiError, Expired, NotFound
    from minik8s.cli import printers
    if len(requests) != 1:
        raise CliError(f"watch is only supported on individual resources and resource collections, but "
                       f"{len(requests)} resources were found")
    info, names = requests[0]
    if names and len(names) > 1:
        raise CliError(f"watch is only supported on individual resources and resource collections, but "
                       f"{len(names)} resources were found")
    fmt, arg = printers.parse_output(args.output)
    client = client_for(args)
    ns = "" if args.all_namespaces else namespace_of(args)
    if not info.namespaced:
        ns = ""
    label_sel = args.selector or ""
    field_sel = args.field_selector or ""
    if names:
        field_sel = ",".join(x for x in (field_sel, f"metadata.name={names[0]}") if x)
    timeout = getattr(args, "request_timeout", None) or None
    deadline = time.monotonic() + timeout if timeout else None
    events_col = args.output_watch_events
    table = printers.Table(info, wide=(fmt == "wide"), namespace_column=bool(args.all_namespaces and info.namespaced),
                           show_labels=args.show_labels, label_columns=[c for s in (args.label_columns or [])
                                                                         for c in s.split(",") if c])
    stream_table = StreamTable()
    header_done = [args.no_headers]
    tpl = None
    if fmt in ("jsonpath", "jsonpath-as-json"):
        from minik8s.cli import jsonpath
        tpl = jsonpath.compile(arg)

    def emit(objs_events: list[tuple[str, object]]) -> None:
        if not objs_events:
            return
        if fmt in ("", "wide"):
            now = time.time()
            rows = []
            if not header_done[0]:
                rows.append((["EVENT"] if events_col else []) + table.header)
                header_done[0] = True
            for typ, o in objs_events:
                rows.append(([typ] if events_col else []) + table.row(o, now))
            stream_table.emit(rows)
            return
        for typ, o in objs_events:
            if fmt == "name":
                text = printers.resource_name(info, o)
            elif fmt in ("json", "yaml"):
                doc = printers.to_json_obj(o, info)
                if events_col:
                    doc = {"type": typ, "object": doc}
                text = printers.dump_json(doc) if fmt == "json" else "---\n" + printers.dump_yaml(doc)
            elif tpl is not None:
                text = tpl.render(printers.to_json_obj(o, info))
            else:
                text = printers.dump_json(printers.to_json_obj(o, info))
            sys.stdout.write(text if text.endswith("\n") or tpl is not None else text + "\n")
        sys.stdout.flush()

    rv = ""
    if args.watch_only:
        # start where a list would: changes from now on, not the current objects
        rv = client.list(info, ns, label_sel, field_sel).resource_version
    else:
        try:
            if names:
                obj = client.get(info, names[0], namespace_of(args) if info.namespaced else "")
                objs, rv = [obj], obj.metadata.resourceVersion
            else:
                lst = client.list(info, ns, label_sel, args.field_selector or "")
                objs, rv = sort_objects(list(lst)), lst.resource_version
        except NotFound as e:
            report(api_error_line(e))
            return 1
        emit([("ADDED", o) for o in objs])
    try:
        while True:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return 0
            stream = client.watch(info, ns, resource_version=rv, label_selector=label_sel,
                                  field_selector=field_sel, timeout=remaining)
            try:
                for ev in stream:
                    if ev.type == "BOOKMARK":
                        rv = ev.object.metadata.resourceVersion or rv
                        continue
                    rv = ev.object.metadata.resourceVersion or rv
                    emit([(ev.type, ev.object)])
            except Expired:
                rv = ""
                continue
            except ApiError:
                if deadline is not None and time.monotonic() >= deadline - 0.05:
                    return 0
                raise
            time.sleep(0.2)   # the server ended the stream (a restart): watch again from where we were
    except KeyboardInterrupt:
        return 0


# ---------------------------------------------------------------- waiting for a condition
def wait_for(client, info, ns: str, name: str, mode: str, pred, deadline: float | None,
             uid: str = "") -> bool:
    """Block until the object meets the condition (True) or the deadline passes (False)."""
    from minik8s.api.errors import ApiError, Expired, NotFound
    try:
        obj = client.get(info, name, ns)
    except NotFound:
        if mode == "delete":
            return True
        if mode != "create":
            raise
        obj = None
    if obj is not None:
        if mode == "delete" and uid and obj.metadata.uid != uid:
            return True
        if mode == "create" or (pred is not None and pred(obj)):
            return True
    rv = obj.metadata.resourceVersion if obj is not None else ""
    while True:
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            return False
        stream = client.watch(info, ns, resource_version=rv, field_selector=f"metadata.name={name}",
                              timeout=remaining)
        try:
            for ev in stream:
                o = ev.object
                if ev.type == "BOOKMARK":
                    rv = o.metadata.resourceVersion or rv
                    continue
                rv = o.metadata.resourceVersion or rv
                if mode == "delete":
                    if ev.type == "DELETED" and (not uid or o.metadata.uid == uid):
                        return True
                elif mode == "create":
                    if ev.type != "DELETED":
                        return True
                elif ev.type != "DELETED" and pred(o):
                    return True
        except Expired:
            rv = ""
            if mode == "delete":
                try:
                    cur = client.get(info, name, ns)
                    if uid and cur.metadata.uid != uid:
                        return True
                except NotFound:
                    return True
            continue
        except ApiError:
            if deadline is not None and time.monotonic() >= deadline - 0.05:
                return False
            raise
        time.sleep(0.2)           # the stream ended (a server restart): watch again from rv


def wait_deleted(client, info, ns: str, name: str, uid: str, timeout: float | None) -> bool:
    deadline = time.monotonic() + timeout if timeout else None
    return wait_for(client, info, ns, name, "delete", None, deadline, uid)
