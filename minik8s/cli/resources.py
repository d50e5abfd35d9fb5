"""The resource commands of `minictl`: get (get -w in watching.py), apply, create, delete, describe,
label, annotate, patch, api-resources and version, with kubectl's arguments, output and messages.

Everything heavy (gRPC, protobuf, YAML) is imported inside the commands, so `minictl` starts fast."""
from __future__ import annotations

import json
import sys
import time

from minik8s.api.workloads import LAST_APPLIED_ANNOTATION as LAST_APPLIED
from minik8s.cli.applyconfig import modified_config
from minik8s.cli.common import (CliError, api_error_line, bool_flag, client_for, duration, file_flags,
                                load_good_manifests, load_manifests, lookup, namespace_of, output_flag, parse_resources, report,
                                selector_args, selector_flags, sort_objects, target_namespace)


# ---------------------------------------------------------------- flags
def _get_flags(p):
    p.add_argument("resources", nargs="*", metavar="TYPE[/NAME] [NAME...]")
    output_flag(p)
    selector_flags(p)
    p.add_argument("-A", "--all-namespaces", action="store_true", help="list across all namespaces")
    p.add_argument("-w", "--watch", action="store_true", help="after listing, watch for changes")
    p.add_argument("--watch-only", action="store_true", help="watch for changes without listing first")
    p.add_argument("--output-watch-events", action="store_true", help="add the watch event type")
    p.add_argument("--show-labels", action="store_true", help="add a LABELS column")
    p.add_argument("--show-kind", action="store_true", help="name each object with its kind (deployment.apps/web)")
    p.add_argument("-L", "--label-columns", action="append", help="add a column per label key")
    p.add_argument("--no-headers", action="store_true", help="omit table headers")
    p.add_argument("--sort-by", help="sort by a JSONPath expression, e.g. .metadata.name")
    p.add_argument("--ignore-not-found", action="store_true", help="no error for a missing named object")


def _describe_flags(p):
    p.add_argument("resources", nargs="*", metavar="TYPE[/NAME] [NAME...]")
    selector_flags(p, field=False)
    p.add_argument("-A", "--all-namespaces", action="store_true")
    bool_flag(p, "--show-events", default=True, help="include the Events table (default true)")


def _apply_flags(p):
    file_flags(p, required=True)
    output_flag(p, "output format: name|json|yaml")


def _create_flags(p):
    p.add_argument("resources", nargs="*", metavar="namespace NAME")
    file_flags(p)
    output_flag(p, "output format: name|json|yaml")
    p.add_argument("--save-config", action="store_true", help="record the configuration for later apply")
    p.add_argument("--from", dest="from_", metavar="cronjob/NAME",
                   help="create job NAME: the resource to make the Job from")
    p.add_argument("--from-literal", action="append", default=[], metavar="KEY=VALUE",
                   help="create configmap/secret: a key and its literal value (repeatable)")
    p.add_argument("--from-file", action="append", default=[], metavar="[KEY=]PATH",
                   help="create configmap/secret: a file (key: its name) or every file of a directory")
    p.add_argument("--from-env-file", action="append", default=[], metavar="PATH",
                   help="create configmap/secret: KEY=VALUE lines of a file")
    p.add_argument("--type", default="", help="create secret generic: the Secret's type")
    p.add_argument("--image", action="append", default=[], help="create deployment|job: the image (repeatable)")
    p.add_argument("-r", "--replicas", type=int, default=1, help="create deployment: the number of replicas")
    p.add_argument("--port", type=int, default=-1, help="create deployment: the container port to expose")
    p.add_argument("--tcp", action="append", default=[], metavar="PORT[:TARGET]",
                   help="create service: a port and the pods' target port (repeatable)")
    p.add_argument("--node-port", type=int, default=0, help="create service nodeport: the node port")
    p.add_argument("--clusterip", default="", help="create service clusterip: the cluster IP (None: headless)")
    p.add_argument("--duration", type=duration, default=0.0,
                   help="create token: how long the token lives, e.g. 1h (default: the server's, 1h)")
    p.add_argument("--audience", action="append", default=[], help="create token: an audience (repeatable)")
    p.add_argument("--bound-object-kind", default="", help="create token: bind the token to a Pod, Secret or Node")
    p.add_argument("--bound-object-name", default="", help="create token: the name of the object bound to")
    p.add_argument("--dry-run", nargs="?", const="client", default="none", choices=("none", "client", "server"),
                   help="client: print the object only; server: have the server check it without storing it")


def _delete_flags(p):
    p.add_argument("resources", nargs="*", metavar="TYPE[/NAME] [NAME...]")
    file_flags(p)
    selector_flags(p)
    p.add_argument("--all", action="store_true", help="delete all resources of the type in the namespace")
    p.add_argument("-A", "--all-namespaces", action="store_true")
    p.add_argument("--grace-period", type=int, default=-1,
                   help="seconds to let the object terminate (-1: its own default)")
    p.add_argument("--now", action="store_true", help="delete with grace period 1 (immediate shutdown)")
    p.add_argument("--force", action="store_true", help="with --grace-period=0, remove at once")
    p.add_argument("--cascade", nargs="?", const="background", default="background",
                   help="background (default), foreground or orphan")
    bool_flag(p, "--wait", default=True, help="wait until the objects are gone (default true, as kubectl)")
    p.add_argument("--timeout", type=duration, default=0, help="how long --wait waits (0: no limit)")
    p.add_argument("--ignore-not-found", action="store_true")
    output_flag(p, "output format: name")


def _api_resources_flags(p):
    p.add_argument("--namespaced", help="true or false: only namespaced or only cluster-scoped kinds")
    p.add_argument("--api-group", help="only this API group ('' for core)")
    output_flag(p, "output format: name")
    p.add_argument("--no-headers", action="store_true")


def _version_flags(p):
    p.add_argument("--client", action="store_true", help="client version only")
    output_flag(p, "output format: json|yaml")


def _meta_flags(p):
    p.add_argument("args", nargs="+", metavar="TYPE NAME KEY=VAL... KEY-...")
    p.add_argument("--overwrite", action="store_true", help="allow replacing existing values")
    p.add_argument("--all", action="store_true")
    p.add_argument("-A", "--all-namespaces", action="store_true")
    p.add_argument("-l", "--selector")
    p.add_argument("--resource-version", help="only if the object is still at this version")
    p.add_argument("-f", "--filename", action="append", default=None)


def _patch_flags(p):
    p.add_argument("resources", nargs="+", metavar="TYPE NAME | TYPE/NAME")
    p.add_argument("-p", "--patch", help="the patch, JSON (or YAML)")
    p.add_argument("--patch-file", help="a file holding the patch")
    p.add_argument("--type", default="merge", help="patch type: merge (the only one supported)")
    p.add_argument("--subresource", help="status to patch the status subresource")
    output_flag(p, "output format: name|json|yaml")


# name, implementation (module:function), help, flags: main.py joins every verb module's COMMANDS
COMMANDS = [
    ("get", "resources:cmd_get", "Display one or many resources", _get_flags),
    ("describe", "resources:cmd_describe", "Show details of a resource or group of resources", _describe_flags),
    ("apply", "resources:cmd_apply", "Apply a configuration to a resource by file name or stdin", _apply_flags),
    ("create", "resources:cmd_create", "Create a resource from a file or from stdin", _create_flags),
    ("delete", "resources:cmd_delete", "Delete resources by file names, stdin, resources and names, or by "
                                       "resources and label selector", _delete_flags),
    ("api-resources", "resources:cmd_api_resources", "Print the supported API resources",
     _api_resources_flags),
    ("version", "resources:cmd_version", "Print the client and server version information", _version_flags),
    ("label", "resources:cmd_label", "Update the labels on a resource", _meta_flags),
    ("annotate", "resources:cmd_annotate", "Update the annotations on a resource", _meta_flags),
    ("patch", "resources:cmd_patch", "Update fields of a resource with a merge patch", _patch_flags),
]


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
        from minik8s.cli.watching import get_watch
        return get_watch(args, requests)
    from minik8s.api.errors import ApiError, NotFound
    client = client_for(args)
    ns = "" if args.all_namespaces else namespace_of(args)
    label_sel, field_sel = selector_args(args)
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
    with_kind = len(groups) > 1 or getattr(args, "show_kind", False)
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
def cmd_apply(args) -> int:
    from minik8s.cli.printers import print_result
    from minik8s.api.codec import FieldError, from_dict, to_dict
    from minik8s.api.errors import ApiError, NotFound
    from minik8s.api.mergepatch import three_way_patch
    manifests, failed = load_good_manifests(args)
    if not manifests:
        if failed:
            return 1
        raise CliError("no objects passed to apply")
    targets = []
    for m in manifests:
        ns = target_namespace(args, m)
        if not m.obj.metadata.name:
            if m.obj.metadata.generateName:
                raise CliError(f"from {m.source}: cannot use generate name with apply")
            raise CliError(f"error when retrieving current configuration of {m.where}: "
                           "resource name may not be empty")
        targets.append((m, ns))
    client = client_for(args)
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
                print_result(fmt, info, res, "created")
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
                print_result(fmt, info, live, "unchanged")
                continue
            res = client.patch(info, name, patch, ns)
            changed = res.metadata.resourceVersion != live.metadata.resourceVersion
            print_result(fmt, info, res, "configured" if changed else "unchanged")
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


def cmd_create(args) -> int:
    from minik8s.cli.printers import print_result
    from minik8s.api.errors import ApiError
    if args.resources:
        return _create_named(args)
    manifests = load_manifests(args)
    if not manifests:
        raise CliError("no objects passed to create")
    targets = [(m, target_namespace(args, m)) for m in manifests]
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
            res = obj if args.dry_run == "client" else client.create(obj, dry_run=args.dry_run == "server")
            print_result(args.output, m.info, res, "created" + _DRY_RUN_NOTE[args.dry_run])
        except ApiError as e:
            report(api_error_line(e, f'error when creating "{m.source}": '))
            failed = True
    return 1 if failed else 0


def _create_named(args) -> int:
    """`create namespace NAME` and `create job NAME --from=cronjob/X` (kubectl's generators for the
    kinds the lessons create by name)."""
    from minik8s.cli.printers import print_result
    words = args.resources
    if words[0] == "token":
        return _create_token(args)
    if lookup(words[0]).kind in ("ConfigMap", "Secret"):
        return _create_config(args)
    if lookup(words[0]).kind in ("Deployment", "Service") or (lookup(words[0]).kind == "Job" and args.image):
        return _create_generated(args)
    kind = lookup(words[0]).kind if len(words) == 2 else ""
    if kind not in ("Namespace", "Job"):
        raise CliError("minictl create takes -f FILE, `namespace NAME`, `deployment NAME --image=I`, "
                       "`service clusterip|nodeport NAME --tcp=P:T`, `job NAME --image=I|--from=cronjob/NAME`, "
                       "`configmap NAME` or `secret generic NAME`")
    from minik8s.api.kinds import KINDS
    info = KINDS[kind]
    if kind == "Job":
        obj = _job_from(args, words[1])
    else:
        obj = info.message()
        obj.apiVersion, obj.kind = info.api_version, info.kind
        obj.metadata.name = words[1]
    from minik8s.api.errors import ApiError
    try:
        res = obj if args.dry_run == "client" else client_for(args).create(obj, dry_run=args.dry_run == "server")
    except ApiError as e:
        report(api_error_line(e))
        return 1
    print_result(args.output, info, res, "created" + _DRY_RUN_NOTE[args.dry_run])
    return 0


_DRY_RUN_NOTE = {"none": "", "client": " (dry run)", "server": " (server dry run)"}


def _create_token(args) -> int:
    """`create token SA`: kubectl's, printing the bare token of a TokenRequest (or the TokenRequest
    with -o json|yaml)."""
    from minik8s.api.errors import ApiError
    if len(args.resources) != 2:
        raise CliError("minictl create token takes exactly one SERVICEACCOUNT name")
    if args.duration < 0 or args.duration != int(args.duration):
        raise CliError("--duration must be a positive whole number of seconds")
    if bool(args.bound_object_kind) != bool(args.bound_object_name):
        raise CliError("--bound-object-kind and --bound-object-name go together")
    bound = None
    client = client_for(args)
    try:
        if args.bound_object_kind:
            if args.bound_object_kind not in ("Pod", "Secret", "Node"):
                raise CliError(f"--bound-object-kind must be one of Pod, Secret, Node, not {args.bound_object_kind}")
            ns = namespace_of(args) if args.bound_object_kind != "Node" else None
            obj = client.get(args.bound_object_kind, args.bound_object_name, ns)
            bound = (args.bound_object_kind, obj.metadata.name, obj.metadata.uid)
        answer = client.create_token(namespace_of(args), args.resources[1], int(args.duration) or None,
                                     args.audience, bound)
    except ApiError as e:
        report(f"error: failed to create token: {e.message}")
        return 1
    if args.output in ("json", "yaml"):
        from minik8s.api import codec
        from minik8s.cli import printers
        doc = codec.to_dict(answer)
        printers.write(printers.dump_json(doc) if args.output == "json" else printers.dump_yaml(doc))
    else:
        print(answer.status.token)
    return 0


def _create_config(args) -> int:
    """`create configmap NAME` and `create secret generic NAME` from --from-literal, --from-file and
    --from-env-file, as kubectl's generators make them."""
    from minik8s.cli.printers import print_result
    from minik8s.api import configdata
    from minik8s.api.errors import ApiError
    from minik8s.api.kinds import CONFIG_MAP, SECRET
    words = args.resources
    info = lookup(words[0])
    if info is SECRET and (len(words) != 3 or words[1] != "generic"):
        raise CliError("minictl create secret takes `generic NAME` (docker-registry and tls are not supported)")
    if info is CONFIG_MAP and len(words) != 2:
        raise CliError(f"exactly one NAME is required, got {len(words) - 1}")
    name = words[-1]
    try:
        pairs = configdata.collect(info.kind, name, args.from_literal, args.from_file, args.from_env_file)
    except ValueError as e:
        raise CliError(str(e)) from None
    namespace = getattr(args, "namespace", None) or ""
    obj = configdata.secret(name, namespace, pairs, args.type) if info is SECRET \
        else configdata.config_map(name, namespace, pairs)
    if args.dry_run != "client":
        obj.metadata.namespace = namespace_of(args)
        try:
            obj = client_for(args).create(obj, dry_run=args.dry_run == "server")
        except ApiError as e:
            report(api_error_line(e))
            return 1
    print_result(args.output, info, obj, "created" + _DRY_RUN_NOTE[args.dry_run])
    return 0


def _create_generated(args) -> int:
    """`create deployment|service|job NAME` from flags, as kubectl's generators make them."""
    from minik8s.cli.printers import print_result
    from minik8s.api.codec import FieldError, from_dict
    from minik8s.api.errors import ApiError
    from minik8s.cli import generators
    words = args.resources
    info = lookup(words[0])
    if info.kind == "Service":
        if len(words) != 3 or words[1].lower() not in generators.SERVICE_TYPES:
            raise CliError("minictl create service takes `clusterip|nodeport|loadbalancer NAME --tcp=PORT:TARGET`")
        doc = generators.service(words[2], generators.SERVICE_TYPES[words[1].lower()], generators.tcp_ports(args.tcp),
                                 node_port=args.node_port, cluster_ip=args.clusterip)
    elif not args.image:
        raise CliError('required flag(s) "image" not set')
    elif len(words) < 2:
        raise CliError("exactly one NAME is required, got 0")
    elif info.kind == "Deployment":
        doc = generators.deployment(words[1], args.image, args.replicas, args.port, words[2:])
    else:
        doc = generators.job(words[1], args.image[0], words[2:])
    if args.dry_run != "client":
        doc["metadata"]["namespace"] = namespace_of(args)
    try:
        obj = from_dict(info.message, doc)
    except FieldError as e:
        raise CliError(str(e)) from None
    if args.dry_run != "client":
        try:
            obj = client_for(args).create(obj, dry_run=args.dry_run == "server")
        except ApiError as e:
            report(api_error_line(e))
            return 1
    print_result(args.output, info, obj, "created" + _DRY_RUN_NOTE[args.dry_run])
    return 0


MANUAL_INSTANTIATE = "cronjob.kubernetes.io/instantiate"


def _job_from(args, name: str):
    """kubectl's createJobFromCronJob: a Job from the CronJob's template, controlled by the CronJob
    and marked as started by hand."""
    from minik8s.api.errors import NotFound
    from minik8s.api.pb import batch_pb2
    if not args.from_:
        raise CliError("either --image or --from must be specified (minictl supports --from=cronjob/NAME)")
    kind, _, source = args.from_.partition("/")
    if not source or lookup(kind).kind != "CronJob":
        raise CliError(f"from must be an existing cronjob: {args.from_}")
    try:
        cj = client_for(args).get("CronJob", source, namespace_of(args))
    except NotFound:
        raise CliError(f'from must be an existing cronjob: cronjobs.batch "{source}" not found') from None
    job = batch_pb2.Job(apiVersion="batch/v1", kind="Job")
    job.metadata.name, job.metadata.namespace = name, cj.metadata.namespace
    tpl = cj.spec.jobTemplate
    job.metadata.annotations[MANUAL_INSTANTIATE] = "manual"
    job.metadata.annotations.update(tpl.metadata.annotations)
    job.metadata.labels.update(tpl.metadata.labels)
    ref = job.metadata.ownerReferences.add()
    ref.apiVersion, ref.kind, ref.name, ref.uid, ref.controller = "batch/v1", "CronJob", source, cj.metadata.uid, True
    job.spec.CopyFrom(tpl.spec)
    return job


# ---------------------------------------------------------------- delete
def _deletion_targets(args, client) -> list[tuple[object, str, str, str]]:
    """[(info, namespace, name, source)] from -f or resource arguments (with -l / --all)."""
    out = []
    if args.filename:
        for m in load_manifests(args):
            out.append((m.info, target_namespace(args, m), m.obj.metadata.name, m.source))
        return out
    if not args.resources:
        raise CliError("You must provide one or more resources by argument or filename.\n"
                       "Example resource specifications include:\n   '-f rsrc.yaml'\n   '--filename=rsrc.json'\n"
                       "   '<resource> <name>'\n   '<resource>'")
    ns = namespace_of(args)
    label_sel, field_sel = selector_args(args)
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
        from minik8s.cli.watching import wait_deleted
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
    label_sel, _ = selector_args(args)
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
        label_sel, _ = selector_args(args)
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
    from minik8s.cli.printers import print_result
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
            print_result(args.output, info, res, "patched")
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
