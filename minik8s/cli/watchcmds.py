"""`minictl wait` (--for=condition=..., --for=delete, --for=create, --for=jsonpath=...), built on the
API's watch (watching.py) so it reacts as soon as the server publishes a change, with no polling."""
from __future__ import annotations

import sys
import time

from minik8s.cli.common import (CliError, api_error_line, client_for, file_flags, load_manifests, namespace_of,
                                parse_duration, parse_resources, report, selector_flags, sort_objects,
                                target_namespace)
from minik8s.cli.watching import wait_for


# ---------------------------------------------------------------- flags
def _wait_flags(p):
    p.add_argument("resources", nargs="*", metavar="TYPE[/NAME] [NAME...]")
    p.add_argument("--for", dest="for_", help="delete | create | condition=NAME[=VALUE] | "
                                              "jsonpath='{EXPR}'[=VALUE]")
    p.add_argument("--timeout", help="how long to wait (default 30s; negative: a week)")
    selector_flags(p)
    p.add_argument("--all", action="store_true")
    p.add_argument("-A", "--all-namespaces", action="store_true")
    file_flags(p)


# name, implementation (module:function), help, flags: main.py joins every verb module's COMMANDS
COMMANDS = [
    ("wait", "watchcmds:cmd_wait", "Wait for a specific condition on one or many resources", _wait_flags),
]


# ---------------------------------------------------------------- wait
def _condition_met(obj, ctype: str, cvalue: str) -> bool:
    status = getattr(obj, "status", None)
    conds = getattr(status, "conditions", None) if status is not None else None
    for c in conds or ():
        if c.type.lower() != ctype.lower():
            continue
        og = getattr(c, "observedGeneration", 0)
        if og and obj.metadata.generation and og != obj.metadata.generation:
            return False
        return c.status.lower() == cvalue.lower()
    return False


def parse_for(spec: str):
    """(mode, predicate) for --for: mode is delete, create, condition or jsonpath."""
    from minik8s.cli import jsonpath, printers
    if spec == "delete":
        return "delete", None
    if spec == "create":
        return "create", None
    if spec.startswith("condition="):
        body = spec[len("condition="):]
        ctype, sep, cvalue = body.partition("=")
        if not ctype:
            raise CliError(f"invalid condition: {spec}")
        cvalue = cvalue if sep else "true"
        return "condition", lambda o: _condition_met(o, ctype, cvalue)
    if spec.startswith("jsonpath="):
        body = spec[len("jsonpath="):]
        if body.startswith("{"):
            depth, end = 0, -1
            for i, ch in enumerate(body):
                if ch == "{":
                    depth += 1
                elif ch == "}":
                    depth -= 1
                    if depth == 0:
                        end = i
                        break
            if end < 0:
                raise CliError(f"unmatched braces in jsonpath: {body}")
            expr, rest = body[:end + 1], body[end + 1:]
            value = rest[1:] if rest.startswith("=") else None
            if rest and not rest.startswith("="):
                raise CliError(f"jsonpath wait format must be --for=jsonpath='{{.status.readyReplicas}}'=3: {spec}")
        else:
            expr, sep, value = body.rpartition("=")
            if not sep:
                expr, value = body, None
        try:
            tpl = jsonpath.compile(jsonpath.relaxed(expr))
        except jsonpath.JSONPathError as e:
            raise CliError(f"unrecognized jsonpath expression {expr}: {e}") from None

        def pred(o):
            vals = tpl.find(printers.to_json_obj(o))
            if value is None:
                return bool(vals) and vals[0] not in (None, "", [], {})
            if len(vals) != 1:
                return False
            return jsonpath.format_value(vals[0]) == value
        return "jsonpath", pred
    raise CliError(f"unrecognized condition: \"{spec}\"")


def cmd_wait(args) -> int:
    from minik8s.api.errors import ApiError
    if not args.for_:
        raise CliError("--for must be set")
    mode, pred = parse_for(args.for_)
    timeout = parse_duration(args.timeout) if args.timeout is not None else 30.0
    if timeout < 0:
        timeout = 7 * 24 * 3600.0
    client = client_for(args)
    ns = namespace_of(args)
    targets = []
    if args.filename:
        for m in load_manifests(args):
            targets.append((m.info, target_namespace(args, m), m.obj.metadata.name))
    else:
        if not args.resources:
            raise CliError("resource(s) were provided, but no name was specified")
        for info, names in parse_resources(args.resources):
            tns = ns if info.namespaced else ""
            if names:
                targets.extend((info, tns, n) for n in names)
            elif args.selector or args.all or args.field_selector:
                lns = "" if args.all_namespaces else tns
                for o in sort_objects(list(client.list(info, lns, args.selector or "", args.field_selector or ""))):
                    targets.append((info, o.metadata.namespace, o.metadata.name))
            else:
                raise CliError("resource(s) were provided, but no name was specified")
    if not targets:
        raise CliError("no matching resources found")
    deadline = time.monotonic() + timeout
    failed = False
    for info, tns, name in targets:
        try:
            ok = wait_for(client, info, tns, name, mode, pred, deadline)
        except ApiError as e:
            report(api_error_line(e))
            failed = True
            continue
        except KeyboardInterrupt:
            return 130
        if ok:
            print(f"{info.resource}/{name} condition met")
            sys.stdout.flush()
        else:
            report(f"error: timed out waiting for the condition on {info.plural}/{name}")
            failed = True
    return 1 if failed else 0
