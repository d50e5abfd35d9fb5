"""`minictl expose`: a Service for a Deployment, ReplicaSet, ReplicationController-like workload, Pod
or Service, selecting its pods as kubectl's generator does (the workload's matchLabels, a pod's labels,
a service's selector), its ports from --port or the pod template's container ports, and
`service/NAME exposed`."""
from __future__ import annotations

from minik8s.cli.common import CliError, api_error_line, client_for, namespace_of, output_flag, parse_resources, \
    report


def expose_flags(p):
    p.add_argument("resources", nargs="+", metavar="TYPE NAME | TYPE/NAME")
    p.add_argument("--port", default="", help="the port(s) the service serves, comma-separated")
    p.add_argument("--target-port", default="", help="the pods' port (name or number) traffic goes to")
    p.add_argument("--protocol", default="", help="TCP (default), UDP or SCTP")
    p.add_argument("--type", default="", help="ClusterIP, NodePort, LoadBalancer or ExternalName")
    p.add_argument("--name", default="", help="the service's name (default: the exposed object's)")
    p.add_argument("--selector", default="", help="the pods to select, a=b,c=d (default: the object's)")
    p.add_argument("-l", "--labels", default="", help="the service's labels, a=b,c=d (default: the object's)")
    p.add_argument("--cluster-ip", default="", help="the cluster IP ('None' for a headless service)")
    p.add_argument("--dry-run", nargs="?", const="client", default="none", choices=("none", "client", "server"),
                   help="client: print the object only; server: the server checks it, stores nothing")
    output_flag(p, "output format: name|json|yaml")


COMMANDS = [
    ("expose", "exposecmds:cmd_expose", "Take a replication controller, service, deployment or pod and expose it "
                                        "as a new Kubernetes service", expose_flags),
]

_EXPOSABLE = ("Deployment", "ReplicaSet", "Pod", "Service", "StatefulSet")


def _pairs(text: str, flag: str) -> dict:
    out = {}
    for part in (p for p in text.split(",") if p):
        k, sep, v = part.partition("=")
        if not sep or not k:
            raise CliError(f"invalid {flag} {text!r}: want key=value[,key=value]")
        out[k] = v
    return out


def _selector_of(obj) -> dict:
    kind = obj.kind or type(obj).__name__
    if kind == "Pod":
        labels = dict(obj.metadata.labels)
        if not labels:
            raise CliError(f'the pod "{obj.metadata.name}" has no labels and cannot be exposed')
        return labels
    if kind == "Service":
        return dict(obj.spec.selector)
    sel = obj.spec.selector
    if sel.matchExpressions:
        raise CliError("couldn't convert expressions - \"" + obj.metadata.name +
                       "\" to map-based selector format")
    return dict(sel.matchLabels)


def _template_ports(obj) -> list[tuple[int, str]]:
    kind = obj.kind or type(obj).__name__
    if kind == "Pod":
        spec = obj.spec
    elif kind == "Service":
        return [(p.port, p.protocol) for p in obj.spec.ports]
    else:
        spec = obj.spec.template.spec
    return [(p.containerPort, p.protocol) for c in spec.containers for p in c.ports]


def _ports(args, obj) -> list[dict]:
    if args.port:
        words = [w for w in args.port.split(",") if w]
        for w in words:
            if not w.isdigit():
                raise CliError(f'invalid --port "{w}": a port number')
        found = [(int(w), args.protocol or "TCP") for w in words]
    else:
        found = [(p, args.protocol or proto or "TCP") for p, proto in _template_ports(obj)]
    if not found:
        raise CliError(f"couldn't find port via --port flag or introspection\nSee 'minictl expose -h' for help "
                       "and examples")
    out = []
    for i, (port, proto) in enumerate(found):
        p: dict = {"port": port, "protocol": proto}
        if len(found) > 1:
            p["name"] = f"port-{i + 1}"
        target = args.target_port
        p["targetPort"] = (int(target) if target.isdigit() else target) if target else port
        out.append(p)
    return out


def cmd_expose(args) -> int:
    from minik8s.api.codec import FieldError, from_dict
    from minik8s.api.errors import ApiError
    from minik8s.api.kinds import KINDS
    from minik8s.cli import generators, printers
    reqs = parse_resources(args.resources)
    targets = [(info, n) for info, names in reqs for n in (names or [])]
    if len(targets) != 1:
        raise CliError("exactly one resource is required: TYPE NAME or TYPE/NAME")
    info, name = targets[0]
    if info.kind not in _EXPOSABLE:
        raise CliError(f"cannot expose a {info.kind}")
    client = client_for(args)
    ns = namespace_of(args)
    try:
        obj = client.get(info, name, ns)
    except ApiError as e:
        report(api_error_line(e))
        return 1
    selector = _pairs(args.selector, "--selector") or _selector_of(obj)
    labels = _pairs(args.labels, "--labels") or dict(obj.metadata.labels)
    svc_name = args.name or name
    doc = generators.service(svc_name, "", _ports(args, obj), selector=selector, labels=labels,
                             cluster_ip=args.cluster_ip)
    if args.type:
        doc["spec"]["type"] = args.type
    else:
        del doc["spec"]["type"]
    svc_info = KINDS["Service"]
    if args.dry_run != "client":
        doc["metadata"]["namespace"] = ns
    try:
        svc = from_dict(svc_info.message, doc)
    except FieldError as e:
        raise CliError(str(e)) from None
    if args.dry_run != "client":
        try:
            svc = client.create(svc, dry_run=args.dry_run == "server")
        except ApiError as e:
            report(api_error_line(e))
            return 1
    note = {"none": "", "client": " (dry run)", "server": " (server dry run)"}[args.dry_run]
    if args.output == "name":
        print(printers.resource_name(svc_info, svc))
    elif args.output in ("json", "yaml"):
        doc = printers.to_json_obj(svc, svc_info)
        printers.write(printers.dump_json(doc) if args.output == "json" else printers.dump_yaml(doc))
    elif args.output:
        raise CliError(f"unable to match a printer suitable for the output format {args.output!r}")
    else:
        print(f"{printers.resource_name(svc_info, svc)} exposed{note}")
    return 0
