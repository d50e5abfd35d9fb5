"""The resource commands of `minictl`: get, apply, create, delete, describe, label, annotate, patch,
api-resources and version, with kubectl's arguments, output and messages.

Everything heavy (gRPC, protobuf, YAML) is imported inside the commands, so `minictl` starts fast."""
from __future__ import annotations

import json
import sys
import time

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


class CliError(Exception):
    """A failure reported as `error: <message>` with exit status 1."""


class Failed(Exception):
    """Errors were already printed; exit 1."""


# ---------------------------------------------------------------- context
_SERVER: list[str] = []


def client_for(args):
    """The API client for the global flags: --server/--token/--certificate-authority override the
    config file in --home ($MINIK8S_HOME, ~/.minik8s)."""
    from minik8s.client.client import Client
    timeout = getattr(args, "request_timeout", None) or 30.0
    server, token = getattr(args, "server", None), getattr(args, "token", None)
    ca = getattr(args, "certificate_authority", None)
    if server and token is not None:
        _SERVER[:] = [server]
        return Client(server, token, ca, timeout=timeout)
    from minik8s.client.config import ClientConfig
    try:
        cfg = ClientConfig.load(getattr(args, "home", None))
    except FileNotFoundError as e:
        if server:
            _SERVER[:] = [server]
            return Client(server, token or "", ca, timeout=timeout)
        raise CliError(str(e)) from None
    except (KeyError, ValueError) as e:
        raise CliError(f"invalid client config: {e}") from None
    _SERVER[:] = [server or cfg.server]
    if server or token is not None or ca:
        return Client(server or cfg.server, token if token is not None else cfg.token, ca or cfg.ca_file,
                      timeout=timeout)
    return Client(config=cfg, timeout=timeout)


def namespace_of(args) -> str:
    return getattr(args, "namespace", None) or "default"


def lookup(word: str):
    from minik8s.api.kinds import UnknownKind, lookup as _lookup
    try:
        return _lookup(word)
    except UnknownKind as e:
        raise CliError(str(e)) from None


def parse_resources(words: list[str]) -> list[tuple[object, list[str] | None]]:
    """kubectl's resource arguments: `TYPE[,TYPE...] [NAME...]` or `TYPE/NAME...`.

    Returns [(KindInfo, names or None for all)], in the order given."""
    if not words:
        return []
    if "/" in words[0]:
        out: list[tuple[object, list[str] | None]] = []
        for w in words:
            kind, sep, name = w.partition("/")
            if not sep or not kind or not name:
                raise CliError("arguments in resource/name form must have a single resource and name")
            info = lookup(kind)
            if out and out[-1][0] is info:
                out[-1][1].append(name)
            else:
                out.append((info, [name]))
        return out
    if any("/" in w for w in words[1:]):
        raise CliError("there is no need to specify a resource type as a separate argument when passing "
                       "arguments in resource/name form (e.g. 'minictl get resource/<resource_name>' "
                       "instead of 'minictl get resource resource/<resource_name>'")
    kinds = [k for k in words[0].split(",") if k]
    names = words[1:] or None
    infos = []
    for k in kinds:
        if k == "all":
            infos.extend(lookup(x) for x in ("pods", "services", "deployments", "replicasets", "jobs",
                                             "horizontalpodautoscalers"))
        else:
            infos.append(lookup(k))
    return [(i, list(names) if names else None) for i in infos]


def what(info, name: str) -> str:
    """`deployments.apps "web"`, as the server words an object in its errors."""
    plural = f"{info.plural}.{info.group}" if info.group else info.plural
    return f'{plural} "{name}"'


def api_error_line(e, context: str = "") -> str:
    """kubectl's wording of a server error (`Error from server (NotFound): pods "x" not found`)."""
    from minik8s.api.errors import Invalid, Unauthenticated, Unavailable
    if isinstance(e, Invalid):
        return f"The {e.message}"
    if isinstance(e, Unauthenticated):
        return "error: You must be logged in to the server (Unauthorized)"
    low = e.message.lower()
    server = _SERVER[0] if _SERVER else "the server"
    if isinstance(e, Unavailable) and any(s in low for s in ("failed to connect", "connection refused",
                                                             "dns resolution", "socket closed",
                                                             "connection reset")):
        return f"The connection to the server {server} was refused - did you specify the right host or port?"
    if isinstance(e, Unavailable) and "deadline exceeded" in low:
        return f"Unable to connect to the server {server}: request timed out ({e.message})"
    return f"Error from server ({e.reason}): {context}{e.message}"


def report(line: str) -> None:
    print(line, file=sys.stderr)


def _selector_args(args) -> tuple[str, str]:
    return getattr(args, "selector", None) or "", getattr(args, "field_selector", None) or ""


def sort_objects(objs: list) -> list:
    return sorted(objs, key=lambda o: (o.metadata.namespace, o.metadata.name))


# ---------------------------------------------------------------- get
def cmd_get(args) -> int:
    from minik8s.cli import printers
    try:
        printers.check_output(args.output)
    except ValueError as e:
        raise CliError(str(e)) from None
    if not args.resources:
        raise CliError('You must specify the type of resource to get. Use "minictl api-resources" for a '
                       "complete list of supported resources.")
    requests = parse_resources(args.resources)
    if args.watch or args.watch_only:
        from minik8s.cli.watchcmds import get_watch
        return get_watch(args, requests)
    from minik8s.api.errors import ApiError, NotFound
    client = client_for(args)
    ns = "" if args.all_namespaces else namespace_of(args)
    label_sel, field_sel = _selector_args(args)
    groups = []          # (info, [objects])
    failed = False
    single = len(requests) == 1 and requests[0][1] is not None and len(requests[0][1]) == 1
    for info, names in requests:
        objs = []
        if names:
            for n in names:
                try:
                    objs.append(client.get(info, n, namespace_of(args)))
                except NotFound as e:
                    if not args.ignore_not_found:
                        report(api_error_line(e))
                        failed = True
                except ApiError as e:
                    report(api_error_line(e))
                    failed = True
        else:
            try:
                objs = sort_objects(list(client.list(info, ns if info.namespaced else "", label_sel, field_sel)))
            except ApiError as e:
                report(api_error_line(e))
                failed = True
                continue
        groups.append((info, objs))
    if args.sort_by:
        groups = [(i, _sort_by(objs, i, args.sort_by)) for i, objs in groups]
    _print_objects(args, groups, single, ns, any(n is None for _, n in requests) and not failed)
    return 1 if failed else 0


def _sort_by(objs, info, expr):
    from minik8s.cli import jsonpath, printers
    tpl = jsonpath.compile(jsonpath.relaxed(expr))

    def key(o):
        vals = tpl.find(printers.to_json_obj(o, info))
        v = vals[0] if vals else None
        if isinstance(v, bool) or v is None:
            return (0, 0, "")
        if isinstance(v, (int, float)):
            return (1, v, "")
        if isinstance(v, str):
            return (2, 0, v)
        return (3, 0, json.dumps(v, sort_keys=True))
    return sorted(objs, key=key)


def _print_objects(args, groups, single: bool, ns: str, listed: bool) -> None:
    from minik8s.cli import printers
    fmt, arg = printers.parse_output(args.output)
    total = sum(len(objs) for _, objs in groups)
    if fmt == "name":
        for info, objs in groups:
            for o in objs:
                print(printers.resource_name(info, o))
        if total == 0 and listed:
            _no_resources(groups, ns)
        return
    if fmt in ("json", "yaml", "jsonpath", "jsonpath-as-json"):
        docs = [printers.to_json_obj(o, info) for info, objs in groups for o in objs]
        if single and len(docs) == 1:
            doc = docs[0]
        elif single and not docs:
            return
        else:
            doc = printers.list_doc(docs)
        if fmt == "json":
            printers.write(printers.dump_json(doc))
        elif fmt == "yaml":
            printers.write(printers.dump_yaml(doc))
        else:
            from minik8s.cli import jsonpath
            try:
                tpl = jsonpath.compile(arg)
                if fmt == "jsonpath-as-json":
                    printers.write(printers.dump_json(tpl.find(doc)))
                else:
                    sys.stdout.write(tpl.render(doc))
                    sys.stdout.flush()
            except jsonpath.JSONPathError as e:
                raise CliError(f"error parsing jsonpath {arg}, {e}") from None
        return
    if fmt == "custom-columns":
        docs = [printers.to_json_obj(o, info) for info, objs in groups for o in objs]
        if not docs:
            if listed:
                _no_resources(groups, ns)
            return
        try:
            printers.write(printers.custom_columns(arg, docs, args.no_headers))
        except ValueError as e:
            raise CliError(str(e)) from None
        return
    # tables
    if total == 0:
        if listed:
            _no_resources(groups, ns)
        return
    now = time.time()
    shown = [(i, objs) for i, objs in groups if objs]
    with_kind = len(groups) > 1
    out = []
    for info, objs in shown:
        table = printers.Table(info, wide=(fmt == "wide"), namespace_column=bool(args.all_namespaces
                                                                                and info.namespaced),
                               show_labels=args.show_labels, with_kind=with_kind,
                               label_columns=_label_columns(args))
        out.append(printers.render_table(None if args.no_headers else table.header,
                                         [table.row(o, now) for o in objs]))
    printers.write("\n\n".join(out))


def _label_columns(args) -> list[str]:
    cols = []
    for spec in getattr(args, "label_columns", None) or []:
        cols.extend(c for c in spec.split(",") if c)
    return cols


def _no_resources(groups, ns: str) -> None:
    if ns and any(i.namespaced for i, _ in groups):
        report(f"No resources found in {ns} namespace.")
    else:
        report("No resources found")


# ---------------------------------------------------------------- apply / create
def _load_manifests(args):
    from minik8s.api.manifest import ManifestError, load_paths
    if not args.filename:
        raise CliError("must specify one of -f and -k")
    try:
        return load_paths(args.filename, recursive=getattr(args, "recursive", False))
    except ManifestError as e:
        for line in e.errors:
            report(f"error: {line}")
        raise Failed() from None


def _target_namespace(args, m) -> str:
    """The namespace for a manifest's object, as kubectl decides it."""
    if not m.info.namespaced:
        return ""
    flag = getattr(args, "namespace", None)
    own = m.obj.metadata.namespace
    if own and flag and own != flag:
        raise CliError(f'the namespace from the provided object "{own}" does not match the namespace '
                       f'"{flag}". You must pass \'--namespace={own}\' to perform this operation.')
    return own or flag or "default"


def _only_nulls(patch):
    out = {}
    for k, v in patch.items():
        if v is None:
            out[k] = None
        elif isinstance(v, dict):
            sub = _only_nulls(v)
            if sub:
                out[k] = sub
    return out


def _subset(m, c) -> bool:
    """Whether `m` is contained in `c` (everything `m` says, `c` says too; `c` may say more, as the
    server's defaults do)."""
    from minik8s.api.mergepatch import create_merge_patch
    if isinstance(m, dict):
        return isinstance(c, dict) and all(k in c and _subset(v, c[k]) for k, v in m.items())
    if isinstance(m, list):
        return isinstance(c, list) and len(m) == len(c) and all(_subset(a, b) for a, b in zip(m, c))
    return not create_merge_patch({"v": m}, {"v": c})


def _delta(current: dict, modified: dict, original) -> dict:
    """The additions and changes that turn `current` into `modified`, ignoring what `current` has
    that `modified` does not mention. A list is left alone when the manifest did not change it
    since the last apply and the live list still holds everything it says (merge patches replace
    lists whole, which would drop the server's defaults inside them)."""
    from minik8s.api.mergepatch import create_merge_patch
    out = {}
    for k, v in modified.items():
        if k not in current:
            out[k] = v
            continue
        c = current[k]
        o = original.get(k) if isinstance(original, dict) else None
        if isinstance(v, dict) and isinstance(c, dict):
            d = _delta(c, v, o)
            if d:
                out[k] = d
        elif isinstance(v, list):
            if _subset(v, c) and (o is None or not create_merge_patch({"v": o}, {"v": v})):
                continue
            out[k] = v
        elif create_merge_patch({"v": c}, {"v": v}):
            out[k] = v
    return out


def _deep_merge(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def three_way_patch(original: dict | None, modified: dict, current: dict) -> dict:
    """kubectl apply's patch: delete what the last applied configuration had and the new one does not;
    add or change what the new one says differently from the live object."""
    from minik8s.api.mergepatch import create_merge_patch
    deletions = _only_nulls(create_merge_patch(original, modified)) if original else {}
    return _deep_merge(deletions, _delta(current, modified, original or {}))


def modified_config(m, namespace: str) -> tuple[dict, dict]:
    """(the configuration to record as last-applied, the same with the annotation set)."""
    from minik8s.api.codec import to_dict
    cfg = to_dict(m.obj)
    cfg["apiVersion"], cfg["kind"] = m.info.api_version, m.info.kind
    meta = cfg.setdefault("metadata", {})
    if namespace:
        meta["namespace"] = namespace
    else:
        meta.pop("namespace", None)       # cluster-scoped: the server drops it; so must the patch
    anns = dict(meta.get("annotations") or {})
    anns.pop(LAST_APPLIED, None)
    if anns:
        meta["annotations"] = anns
    else:
        meta.pop("annotations", None)
    recorded = json.dumps(cfg, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"
    full = json.loads(json.dumps(cfg))
    full["metadata"].setdefault("annotations", {})[LAST_APPLIED] = recorded
    return cfg, full


def cmd_apply(args) -> int:
    from minik8s.api.codec import FieldError, from_dict, to_dict
    from minik8s.api.errors import ApiError, NotFound
    manifests = _load_manifests(args)
    if not manifests:
        raise CliError("no objects passed to apply")
    targets = []
    for m in manifests:
        ns = _target_namespace(args, m)
        if not m.obj.metadata.name:
            if m.obj.metadata.generateName:
                raise CliError(f"from {m.source}: cannot use generate name with apply")
            raise CliError(f"error when retrieving current configuration of {m.where}: "
                           "resource name may not be empty")
        targets.append((m, ns))
    client = client_for(args)
    failed = False
    fmt = args.output
    for m, ns in targets:
        info, name = m.info, m.obj.metadata.name
        _, full = modified_config(m, ns)
        live = None
        try:
            try:
                live = client.get(info, name, ns)
            except NotFound:
                live = None
            if live is None:
                obj = from_dict(info.message, full)
                res = client.create(obj)
                _print_result(fmt, info, res, "created")
                continue
            current = to_dict(live)
            raw = live.metadata.annotations.get(LAST_APPLIED)
            original = None
            if raw:
                try:
                    original = json.loads(raw)
                except ValueError:
                    original = None
            else:
                report(f"Warning: resource {info.plural}/{name} is missing the {LAST_APPLIED} annotation "
                       "which is required by minictl apply. minictl apply should only be used on resources "
                       "created declaratively by either minictl create --save-config or minictl apply. "
                       "The missing annotation will be patched automatically.")
            patch = three_way_patch(original, full, current)
            if not patch:
                _print_result(fmt, info, live, "unchanged")
                continue
            res = client.patch(info, name, patch, ns)
            changed = res.metadata.resourceVersion != live.metadata.resourceVersion
            _print_result(fmt, info, res, "configured" if changed else "unchanged")
        except FieldError as e:
            report(f"error: {m.where}: {e}")
            failed = True
        except ApiError as e:
            from minik8s.api.errors import Invalid
            verb = "creating" if live is None else "applying patch to"
            report(api_error_line(e) if isinstance(e, Invalid)
                   else api_error_line(e, f'error when {verb} "{m.source}": '))
            failed = True
    return 1 if failed else 0


def _print_result(fmt: str | None, info, obj, verb: str) -> None:
    from minik8s.cli import printers
    if fmt == "name":
        print(printers.resource_name(info, obj))
    elif fmt == "json":
        printers.write(printers.dump_json(printers.to_json_obj(obj, info)))
    elif fmt == "yaml":
        printers.write(printers.dump_yaml(printers.to_json_obj(obj, info)))
    else:
        print(f"{printers.resource_name(info, obj)} {verb}")


def cmd_create(args) -> int:
    from minik8s.api.errors import ApiError
    if args.resources:
        return _create_named(args)
    manifests = _load_manifests(args)
    if not manifests:
        raise CliError("no objects passed to create")
    targets = [(m, _target_namespace(args, m)) for m in manifests]
    client = client_for(args)
    failed = False
    for m, ns in targets:
        obj = m.obj
        if ns:
            obj.metadata.namespace = ns
        if args.save_config:
            _, full = modified_config(m, ns)
            obj.metadata.annotations[LAST_APPLIED] = full["metadata"]["annotations"][LAST_APPLIED]
        try:
            res = client.create(obj)
            _print_result(args.output, m.info, res, "created")
        except ApiError as e:
            report(api_error_line(e, f'error when creating "{m.source}": '))
            failed = True
    return 1 if failed else 0


def _create_named(args) -> int:
    """`create namespace NAME` (kubectl's generator for the one kind a tutorial creates by name)."""
    words = args.resources
    if len(words) != 2 or lookup(words[0]).kind != "Namespace":
        raise CliError("minictl create takes -f FILE, or `namespace NAME`")
    from minik8s.api.kinds import KINDS
    info = KINDS["Namespace"]
    obj = info.message()
    obj.apiVersion, obj.kind = info.api_version, info.kind
    obj.metadata.name = words[1]
    from minik8s.api.errors import ApiError
    try:
        res = client_for(args).create(obj)
    except ApiError as e:
        report(api_error_line(e))
        return 1
    _print_result(args.output, info, res, "created")
    return 0


# ---------------------------------------------------------------- delete
def _deletion_targets(args, client) -> list[tuple[object, str, str, str]]:
    """[(info, namespace, name, source)] from -f or resource arguments (with -l / --all)."""
    out = []
    if args.filename:
        for m in _load_manifests(args):
            out.append((m.info, _target_namespace(args, m), m.obj.metadata.name, m.source))
        return out
    if not args.resources:
        raise CliError("You must provide one or more resources by argument or filename.\n"
                       "Example resource specifications include:\n   '-f rsrc.yaml'\n   '--filename=rsrc.json'\n"
                       "   '<resource> <name>'\n   '<resource>'")
    ns = namespace_of(args)
    label_sel, field_sel = _selector_args(args)
    for info, names in parse_resources(args.resources):
        tns = ns if info.namespaced else ""
        if names:
            if label_sel or args.all:
                raise CliError("name cannot be provided when a selector is specified")
            out.extend((info, tns, n, "") for n in names)
        elif label_sel or field_sel or args.all:
            lns = "" if args.all_namespaces else tns
            for o in sort_objects(list(client.list(info, lns, label_sel, field_sel))):
                out.append((info, o.metadata.namespace, o.metadata.name, ""))
        else:
            raise CliError(f"resource(s) were provided, but no name was specified")
    return out


def cmd_delete(args) -> int:
    from minik8s.api.errors import ApiError, NotFound
    client = client_for(args)
    targets = _deletion_targets(args, client)
    if not targets and (args.all or args.selector):
        report(f"No resources found")
        return 0
    grace = args.grace_period if args.grace_period is not None and args.grace_period >= 0 else None
    if args.now:
        grace = 1
    if args.force:
        if grace is None:
            grace = 0
        if grace == 0:
            report("Warning: Immediate deletion does not wait for confirmation that the running resource "
                   "has been terminated. The resource may continue to run on the cluster indefinitely.")
    cascade = {"background": "Background", "foreground": "Foreground", "orphan": "Orphan",
               "true": "Background", "false": "Orphan"}.get((args.cascade or "background").lower())
    if cascade is None:
        raise CliError(f'invalid cascade value ({args.cascade}). Must be "background", "foreground", or "orphan".')
    failed = False
    deleted = []
    for info, ns, name, source in targets:
        try:
            res = client.delete(info, name, ns, grace_period=grace, propagation_policy=cascade)
        except NotFound as e:
            if not args.ignore_not_found:
                report(api_error_line(e))
                failed = True
            continue
        except ApiError as e:
            report(api_error_line(e, f'error when deleting "{source}": ' if source else ""))
            failed = True
            continue
        if args.output == "name":
            print(f"{info.resource}/{name}")
        else:
            print(f'{info.resource} "{name}" {"force deleted" if args.force and grace == 0 else "deleted"}')
        deleted.append((info, ns, name, res.metadata.uid))
    if args.wait and deleted:
        from minik8s.cli.watchcmds import wait_deleted
        timeout = args.timeout if args.timeout else None
        for info, ns, name, uid in deleted:
            if not wait_deleted(client, info, ns, name, uid, timeout):
                report(f"error: timed out waiting for the condition on {info.plural}/{name}")
                failed = True
    return 1 if failed else 0


# ---------------------------------------------------------------- describe
def cmd_describe(args) -> int:
    from minik8s.api.errors import ApiError, NotFound
    from minik8s.cli import describe
    if not args.resources:
        raise CliError('You must specify the type of resource to describe. Use "minictl api-resources" for a '
                       "complete list of supported resources.")
    client = client_for(args)
    ns = namespace_of(args)
    label_sel, _ = _selector_args(args)
    objs = []
    failed = False
    for info, names in parse_resources(args.resources):
        tns = ns if info.namespaced else ""
        if names:
            for n in names:
                try:
                    objs.append((info, client.get(info, n, tns)))
                except NotFound as e:
                    # kubectl falls back to the objects whose names start with the argument
                    matches = [o for o in sort_objects(list(client.list(info, tns)))
                               if o.metadata.name.startswith(n)]
                    if not matches:
                        report(api_error_line(e))
                        failed = True
                    objs.extend((info, o) for o in matches)
                except ApiError as e:
                    report(api_error_line(e))
                    failed = True
        else:
            lns = "" if args.all_namespaces else tns
            found = sort_objects(list(client.list(info, lns, label_sel)))
            objs.extend((info, o) for o in found)
    if not objs and not failed:
        report(f"No resources found in {ns} namespace." if any(i.namespaced for i, _ in
                                                                parse_resources(args.resources))
               else "No resources found")
        return 0
    out = []
    for info, o in objs:
        out.append(describe.describe(client, info, o, show_events=args.show_events))
    if out:
        sys.stdout.write("\n\n".join(out))
        sys.stdout.flush()
    return 1 if failed else 0


# ---------------------------------------------------------------- label / annotate / patch
def _split_changes(words: list[str], what_: str) -> tuple[list[str], dict, list[str]]:
    """Resource words first, then `k=v` to set and `k-` to remove (as kubectl splits them)."""
    resources, sets, removes = [], {}, []
    for w in words:
        if "=" in w:
            k, _, v = w.partition("=")
            if not k:
                raise CliError(f"invalid {what_} spec: {w}")
            sets[k] = v
        elif w.endswith("-") and len(w) > 1:
            removes.append(w[:-1])
        else:
            resources.append(w)
    if not sets and not removes:
        raise CliError(f"at least one {what_} update is required")
    overlap = set(sets) & set(removes)
    if overlap:
        raise CliError(f"can not both modify and remove {what_}s in the same command: {sorted(overlap)[0]}")
    return resources, sets, removes


def _meta_map_cmd(args, field: str, verb: str) -> int:
    from minik8s.api.errors import ApiError
    what_ = "label" if field == "labels" else "annotation"
    resources, sets, removes = _split_changes(args.args, what_)
    if field == "labels":
        from minik8s.api.selectors import validate_label_key, validate_label_value
        for k, v in sets.items():
            errs = validate_label_key(k) + validate_label_value(v)
            if errs:
                raise CliError(f"invalid label spec: {k}={v}: {'; '.join(errs)}")
    client = client_for(args)
    args.filename = getattr(args, "filename", None)
    args.ignore_not_found = False
    targets = []
    if args.filename:
        targets = [(info, ns, n) for info, ns, n, _ in _deletion_targets(args, client)]
    else:
        if not resources:
            raise CliError("one or more resources must be specified as <resource> <name> or <resource>/<name>")
        ns = namespace_of(args)
        label_sel, _ = _selector_args(args)
        for info, names in parse_resources(resources):
            tns = ns if info.namespaced else ""
            if names:
                targets.extend((info, tns, n) for n in names)
            elif label_sel or args.all:
                for o in sort_objects(list(client.list(info, "" if args.all_namespaces else tns, label_sel))):
                    targets.append((info, o.metadata.namespace, o.metadata.name))
            else:
                raise CliError("resource(s) were provided, but no name was specified")
    failed = False
    for info, ns, name in targets:
        try:
            cur = client.get(info, name, ns)
            current = dict(getattr(cur.metadata, field))
            if not args.overwrite:
                for k, v in sets.items():
                    if k in current and current[k] != v:
                        raise CliError(f"'{k}' already has a value ({current[k]}), and --overwrite is false")
            changes: dict = {k: v for k, v in sets.items() if current.get(k) != v}
            changes.update({k: None for k in removes if k in current})
            if not changes:
                print(f"{info.resource}/{name} not {verb}" if field == "labels" else
                      f"{info.resource}/{name} {verb}")
                continue
            patch = {"metadata": {field: changes}}
            if args.resource_version:
                patch["metadata"]["resourceVersion"] = args.resource_version
            client.patch(info, name, patch, ns)
            shown = verb
            if field == "labels" and not sets and removes:
                shown = "unlabeled"
            print(f"{info.resource}/{name} {shown}")
        except ApiError as e:
            report(api_error_line(e))
            failed = True
    return 1 if failed else 0


def cmd_label(args) -> int:
    return _meta_map_cmd(args, "labels", "labeled")


def cmd_annotate(args) -> int:
    return _meta_map_cmd(args, "annotations", "annotated")


def cmd_patch(args) -> int:
    from minik8s.api.errors import ApiError
    if args.type not in ("merge", None):
        raise CliError(f'--type "{args.type}" is not supported: minik8s supports merge patches only '
                       "(--type merge)")
    if args.patch is None and not args.patch_file:
        raise CliError("must specify -p to patch")
    text = args.patch
    if args.patch_file:
        with open(args.patch_file) as f:
            text = f.read()
    try:
        patch = json.loads(text)
    except ValueError:
        import yaml
        try:
            patch = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise CliError(f"unable to parse \"{text}\": {e}") from None
    if not isinstance(patch, dict):
        raise CliError(f'unable to parse "{text}": a merge patch must be a JSON object')
    reqs = parse_resources(args.resources)
    targets = [(info, n) for info, names in reqs for n in (names or [])]
    if not targets:
        raise CliError("resource(s) were provided, but no name was specified")
    client = client_for(args)
    ns = namespace_of(args)
    failed = False
    status = args.subresource == "status"
    if args.subresource not in (None, "", "status"):
        raise CliError(f'invalid subresource value: "{args.subresource}". Must be "status"')
    for info, name in targets:
        tns = ns if info.namespaced else ""
        try:
            before = client.get(info, name, tns)
            res = client.patch(info, name, patch, tns, status=status)
        except ApiError as e:
            report(api_error_line(e))
            failed = True
            continue
        if args.output:
            _print_result(args.output, info, res, "patched")
        elif res.metadata.resourceVersion == before.metadata.resourceVersion:
            print(f"{info.resource}/{name} patched (no change)")
        else:
            print(f"{info.resource}/{name} patched")
    return 1 if failed else 0


# ---------------------------------------------------------------- api-resources / version
def cmd_api_resources(args) -> int:
    from minik8s.api.kinds import KINDS
    from minik8s.cli import printers
    infos = sorted(KINDS.values(), key=lambda i: (i.group, i.plural))
    if args.namespaced is not None:
        want = args.namespaced.lower() in ("true", "1", "yes")
        infos = [i for i in infos if i.namespaced == want]
    if args.api_group is not None:
        infos = [i for i in infos if i.group == args.api_group]
    if args.output == "name":
        for i in infos:
            print(f"{i.plural}.{i.group}" if i.group else i.plural)
        return 0
    header = ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    rows = [[i.plural, ",".join(i.short_names), i.api_version, "true" if i.namespaced else "false", i.kind]
            for i in infos]
    printers.write(printers.render_table(None if args.no_headers else header, rows))
    return 0


def client_version() -> str:
    try:
        from importlib.metadata import version
        return "v" + version("minik8s")
    except Exception:
        return "v0.1.0"


def cmd_version(args) -> int:
    from minik8s.cli import printers
    info = {"clientVersion": {"gitVersion": client_version(), "platform": f"{sys.platform}"}}
    err = None
    if not args.client:
        from minik8s.api.errors import ApiError
        try:
            v = client_for(args).version()
            info["serverVersion"] = {"gitVersion": v.gitVersion, "platform": v.platform}
        except (ApiError, CliError) as e:
            err = e
    if args.output == "json":
        printers.write(printers.dump_json(info))
    elif args.output == "yaml":
        printers.write(printers.dump_yaml(info))
    else:
        print(f"Client Version: {info['clientVersion']['gitVersion']}")
        if "serverVersion" in info:
            print(f"Server Version: {info['serverVersion']['gitVersion']}")
    if err is not None:
        from minik8s.api.errors import ApiError
        report(api_error_line(err) if isinstance(err, ApiError) else f"error: {err}")
        return 1
    return 0
