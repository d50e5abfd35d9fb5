"""`minictl autoscale`: kubectl's autoscale, which creates a HorizontalPodAutoscaler (autoscaling/v2)
for a Deployment, ReplicaSet or StatefulSet, named after its target unless `--name` says otherwise:
`--max` required, `--min` and `--cpu-percent` left to the server's defaults (1, and 80% cpu) when
not given. The target must exist and serve the scale subresource."""
from __future__ import annotations

from minik8s.cli.common import CliError, api_error_line, client_for, namespace_of, parse_resources, report


def _autoscale_flags(p) -> None:
    p.add_argument("resources", nargs="*", metavar="TYPE NAME | TYPE/NAME")
    p.add_argument("--min", type=int, default=-1,
                   help="the lower limit for the number of pods (default: the server's, 1)")
    p.add_argument("--max", type=int, default=-1, help="the upper limit for the number of pods (required)")
    p.add_argument("--cpu-percent", type=int, default=-1,
                   help="the target average CPU utilization over all the pods, as a percentage of the "
                        "requested CPU (default: the server's, 80)")
    p.add_argument("--name", default="", help="the name of the new autoscaler (default: the target's)")
    p.add_argument("--dry-run", choices=["none", "client", "server"], default="none",
                   help="only print the autoscaler (client) or have the server check it without storing it")
    p.add_argument("-o", "--output", help="output format: json|yaml|name")


COMMANDS = [
    ("autoscale", "autoscalecmds:cmd_autoscale",
     "Auto-scale a deployment, replica set or stateful set with a HorizontalPodAutoscaler", _autoscale_flags),
]


def _check_limits(args) -> None:
    """kubectl's own checks, before anything is sent."""
    if args.max < 1:
        raise CliError(f"--max=MAXPODS is required and must be at least 1, max: {args.max}")
    if args.max < args.min:
        raise CliError(f"--max=MAXPODS must be larger or equal to --min=MINPODS, max: {args.max}, min: {args.min}")


def autoscaler(info, name: str, namespace: str, args):
    """The HorizontalPodAutoscaler `minictl autoscale` creates for the target `info`/`name`."""
    from minik8s.api.pb import autoscaling_pb2
    hpa = autoscaling_pb2.HorizontalPodAutoscaler(apiVersion="autoscaling/v2", kind="HorizontalPodAutoscaler")
    hpa.metadata.name, hpa.metadata.namespace = args.name or name, namespace
    ref = hpa.spec.scaleTargetRef
    ref.apiVersion, ref.kind, ref.name = info.api_version, info.kind, name
    if args.min >= 0:
        hpa.spec.minReplicas = args.min
    hpa.spec.maxReplicas = args.max
    if args.cpu_percent >= 0:
        m = hpa.spec.metrics.add(type="Resource")
        m.resource.name = "cpu"
        m.resource.target.type = "Utilization"
        m.resource.target.averageUtilization = args.cpu_percent
    return hpa


def _targets(words: list[str]) -> list[tuple[object, str]]:
    if not words:
        raise CliError("required resource not specified")
    out = []
    for info, names in parse_resources(words):
        if not names:
            raise CliError("resource(s) were provided, but no name was specified")
        out.extend((info, n) for n in names)
    return out


def cmd_autoscale(args) -> int:
    from minik8s.api.errors import ApiError
    _check_limits(args)
    targets = _targets(args.resources)
    ns = namespace_of(args)
    client = client_for(args)
    failed = False
    for info, name in targets:
        if not info.has_scale:
            report(f"error: cannot autoscale a {info.kind}: the {info.plural} kind has no scale subresource "
                   "(Deployment, ReplicaSet and StatefulSet have one)")
            failed = True
            continue
        hpa = autoscaler(info, name, ns, args)
        try:
            client.get(info, name, ns)
            if args.dry_run != "client":
                hpa = client.create(hpa, dry_run=args.dry_run == "server")
        except ApiError as e:
            report(api_error_line(e))
            failed = True
            continue
        _print(args, hpa)
    return 1 if failed else 0


def _print(args, hpa) -> None:
    from minik8s.api import kinds
    from minik8s.cli import printers
    info = kinds.HORIZONTAL_POD_AUTOSCALER
    if args.output in ("json", "yaml"):
        obj = printers.to_json_obj(hpa, info)
        printers.write(printers.dump_json(obj) if args.output == "json" else printers.dump_yaml(obj))
        return
    suffix = {"client": " (dry run)", "server": " (server dry run)"}.get(args.dry_run, "")
    if args.output == "name":
        print(printers.resource_name(info, hpa))
    else:
        print(f"{printers.resource_name(info, hpa)} autoscaled{suffix}")
