"""The workload commands of `minictl`: `scale`, `rollout status|history|undo|restart|pause|resume`,
`set image` and `set env`, with kubectl's arguments, output and messages.

`COMMANDS` (joined into main.py's list) names each command's implementation and flags; the flag
functions are light, everything heavy is imported when a command runs. `rollout undo` works as
kubectl's does, on the client: it finds the ReplicaSet of the wanted revision and writes its pod
template (less the pod-template-hash label) and annotations back into the Deployment; the Deployment
controller then makes that ReplicaSet the new one, under a new revision."""
from __future__ import annotations

import sys
import time

from minik8s.cli.common import (CliError, Parser, api_error_line, bool_value, client_for, duration,
                                global_flags, namespace_of, parse_resources, report, sort_objects)

CONFLICT_RETRIES = 5


# ---------------------------------------------------------------- flags
def _sub(p, title: str):
    return p.add_subparsers(dest=f"{title}_command", metavar="COMMAND", parser_class=Parser)


def _resource_args(p, metavar: str = "TYPE NAME | TYPE/NAME") -> None:
    p.add_argument("resources", nargs="*", metavar=metavar)
    p.add_argument("-l", "--selector", help="label selector")
    p.add_argument("--all", action="store_true", help="every object of the type in the namespace")


def _scale_flags(p) -> None:
    _resource_args(p)
    p.add_argument("--replicas", type=int, default=None, help="the new number of replicas (required)")
    p.add_argument("--current-replicas", type=int, default=-1,
                   help="only scale if the current size is this (-1: any)")
    p.add_argument("--resource-version", default="", help="only scale if the object is at this version")
    p.add_argument("-o", "--output", help="output format: name")


def _rollout_flags(p) -> None:
    sub = _sub(p, "rollout")
    for name, help_, extra in (
            ("status", "Show the status of the rollout", _status_flags),
            ("history", "View rollout history", _history_flags),
            ("undo", "Undo a previous rollout", _undo_flags),
            ("restart", "Restart a resource", None),
            ("pause", "Mark the provided resource as paused", None),
            ("resume", "Resume a paused resource", None)):
        sp = sub.add_parser(name, help=help_, description=help_)
        global_flags(sp)
        sp.set_defaults(func=f"rollout:cmd_rollout_{name}")
        _resource_args(sp)
        if extra is not None:
            extra(sp)
        elif name != "status":
            sp.add_argument("-o", "--output", help="output format: name")


def _status_flags(p) -> None:
    p.add_argument("-w", "--watch", nargs="?", const=True, default=True, type=bool_value,
                   help="watch the status of the rollout until it's done (default true)")
    p.add_argument("--timeout", type=duration, default=0.0,
                   help="how long to wait before giving up, e.g. 5m (0: no limit)")
    p.add_argument("--revision", type=int, default=0, help="pin to a specific revision")


def _history_flags(p) -> None:
    p.add_argument("--revision", type=int, default=0, help="show the pod template of this revision")
    p.add_argument("-o", "--output", help="output format: name|json|yaml")


def _undo_flags(p) -> None:
    p.add_argument("--to-revision", type=int, default=0, help="the revision to roll back to (0: the previous)")
    p.add_argument("-o", "--output", help="output format: name")


def _set_flags(p) -> None:
    sub = _sub(p, "set")
    sp = sub.add_parser("image", help="Update the image of a pod template",
                        description="Update existing container image(s) of resources")
    global_flags(sp)
    sp.set_defaults(func="rollout:cmd_set_image")
    sp.add_argument("args", nargs="*", metavar="(TYPE NAME | TYPE/NAME) CONTAINER_NAME_1=CONTAINER_IMAGE_1 ...")
    sp.add_argument("-l", "--selector", help="label selector")
    sp.add_argument("--all", action="store_true")
    sp.add_argument("-o", "--output", help="output format: name")
    sp = sub.add_parser("env", help="Update environment variables on a pod template",
                        description="Update environment variables on a pod template")
    global_flags(sp)
    sp.set_defaults(func="rollout:cmd_set_env")
    sp.add_argument("args", nargs="*", metavar="(TYPE NAME | TYPE/NAME) KEY_1=VAL_1 ... KEY_N-")
    sp.add_argument("-c", "--containers", default="*", help="the names of containers to change (wildcards)")
    sp.add_argument("-e", "--env", action="append", default=[], help="KEY=VAL to set (repeatable)")
    sp.add_argument("--list", action="store_true", help="print the environment of each container")
    sp.add_argument("--overwrite", nargs="?", const=True, default=True, type=bool_value,
                    help="replace existing values (default true)")
    sp.add_argument("-l", "--selector", help="label selector")
    sp.add_argument("--all", action="store_true")
    sp.add_argument("-o", "--output", help="output format: name")


# name, implementation (module:function), help, flags: main.py joins every verb module's COMMANDS
COMMANDS = [
    ("scale", "rollout:cmd_scale", "Set a new size for a deployment or replica set", _scale_flags),
    ("rollout", "rollout:cmd_rollout", "Manage the rollout of a resource", _rollout_flags),
    ("set", "rollout:cmd_set", "Set specific features on objects", _set_flags),
]


# ---------------------------------------------------------------- shared
def _targets(args, words: list[str], client) -> list[tuple[object, str, str]]:
    """[(info, namespace, name)] for resource words (`TYPE NAME...`, `TYPE/NAME...`) or -l / --all."""
    if not words:
        raise CliError("required resource not specified")
    ns = namespace_of(args)
    selector = getattr(args, "selector", None) or ""
    out = []
    for info, names in parse_resources(words):
        tns = ns if info.namespaced else ""
        if names:
            if selector or getattr(args, "all", False):
                raise CliError("name cannot be provided when a selector is specified")
            out.extend((info, tns, n) for n in names)
        elif selector or getattr(args, "all", False):
            for o in sort_objects(list(client.list(info, tns, selector))):
                out.append((info, o.metadata.namespace, o.metadata.name))
        else:
            raise CliError("resource(s) were provided, but no name was specified")
    return out


def _edit(client, info, ns: str, name: str, change):
    """Read the object, let change(obj) edit it (returning False for no change), write it back;
    re-read and retry on conflicts. Returns (changed, object)."""
    from minik8s.api.errors import Conflict
    for _ in range(CONFLICT_RETRIES):
        obj = client.get(info, name, ns)
        if change(obj) is False:
            return False, obj
        try:
            return True, client.update(obj)
        except Conflict:
            continue
    raise CliError(f"{info.resource}/{name}: the object kept changing; try again")


def _each(targets, act) -> int:
    """Run act(info, ns, name) on every target. A failure is reported, as kubectl does, and the other
    targets still run; the exit code is 1 if any failed."""
    from minik8s.api.errors import ApiError
    failed = False
    for info, ns, name in targets:
        try:
            act(info, ns, name)
        except CliError as e:
            report(f"error: {e}")
            failed = True
        except ApiError as e:
            report(api_error_line(e))
            failed = True
    return 1 if failed else 0


def _done(args, info, name: str, verb: str) -> None:
    if getattr(args, "output", None) == "name":
        print(f"{info.resource}/{name}")
    else:
        print(f"{info.resource}/{name} {verb}")


def _quoted(info, name: str) -> str:
    plural = f"{info.plural}.{info.group}" if info.group else info.plural
    return f'{plural} "{name}"'


def _pod_spec_of(obj):
    kind = obj.DESCRIPTOR.name
    if kind == "Pod":
        return obj.spec
    if kind in ("Deployment", "ReplicaSet", "Job"):
        return obj.spec.template.spec
    return None


# ---------------------------------------------------------------- scale
def cmd_scale(args) -> int:
    if args.replicas is None:
        raise CliError('required flag(s) "replicas" not set')
    if args.replicas < 0:
        raise CliError("The --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0")
    client = client_for(args)

    def scale(info, ns, name):                     # through the scale subresource, as kubectl
        if not info.has_scale:
            raise CliError(f'no scaler has been implemented for {{"{info.group}" "{info.kind}"}}')
        rv = args.resource_version
        if args.current_replicas >= 0:
            cur = client.get_scale(info, name, ns)
            if cur.spec.replicas != args.current_replicas:
                raise CliError(f"Expected replicas to be {args.current_replicas}, was {cur.spec.replicas}")
            rv = rv or cur.metadata.resourceVersion
        client.update_scale(info, name, args.replicas, ns, resource_version=rv)
        _done(args, info, name, "scaled")
    return _each(_targets(args, args.resources, client), scale)


# ---------------------------------------------------------------- rollout
def cmd_rollout(args) -> int:
    raise CliError("you must specify a rollout subcommand: status, history, undo, restart, pause or resume")


def _deployments(args, client, verb_noun: str):
    """The targets of a rollout subcommand; every one must be a Deployment."""
    targets = _targets(args, args.resources, client)
    for info, _, _ in targets:
        if info.kind != "Deployment":
            raise CliError(f'no {verb_noun} has been implemented for "{info.kind}"')
    return targets


def _owned_replicasets(client, d) -> list:
    """The ReplicaSets the Deployment controls (kubectl's deploymentutil.GetAllReplicaSets)."""
    from minik8s.api.workloads import controller_ref
    out = []
    for rs in client.list("ReplicaSet", d.metadata.namespace).items:
        ref = controller_ref(rs)
        if ref is not None and ref.uid == d.metadata.uid:
            out.append(rs)
    return out


def cmd_rollout_status(args) -> int:
    from minik8s.api.errors import ApiError, NotFound
    from minik8s.api import workloads
    client = client_for(args)
    targets = _targets(args, args.resources, client)
    if len(targets) != 1:
        raise CliError("rollout status is only supported on individual resources and resource collections "
                       "with a single item")
    info, ns, name = targets[0]
    if info.kind != "Deployment":
        raise CliError(f"no status viewer has been implemented for {info.kind}")
    deadline = time.monotonic() + args.timeout if args.timeout and args.timeout > 0 else None
    last = None

    def check(d) -> int | None:
        nonlocal last
        if args.revision > 0:
            have = workloads.revision(d)
            if have != args.revision:
                raise CliError(f"desired revision ({args.revision}) is different from the running revision ({have})")
        msg, done, err = workloads.rollout_status(d)
        if err:
            raise CliError(err)
        if msg != last:
            print(msg, flush=True)
            last = msg
        if done or not args.watch:
            return 0
        return None

    try:
        d = client.get(info, name, ns)
    except NotFound as e:
        report(api_error_line(e))
        return 1
    code = check(d)
    if code is not None:
        return code
    rv = d.metadata.resourceVersion
    while True:
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            raise CliError("timed out waiting for the condition")
        stream = client.watch(info, ns, resource_version=rv, field_selector=f"metadata.name={name}",
                              timeout=min(left, 60.0) if left is not None else 60.0)
        try:
            for ev in stream:
                rv = ev.object.metadata.resourceVersion or rv
                if ev.type == "DELETED":
                    raise CliError('object has been deleted')
                if ev.type in ("ADDED", "MODIFIED"):
                    code = check(ev.object)
                    if code is not None:
                        return code
        except ApiError as e:
            from minik8s.api.errors import Expired, Unavailable
            if isinstance(e, Expired):
                d = client.get(info, name, ns)
                rv = d.metadata.resourceVersion
                code = check(d)
                if code is not None:
                    return code
            elif not isinstance(e, Unavailable):
                raise
        finally:
            stream.cancel()


def cmd_rollout_history(args) -> int:
    from minik8s.api import workloads
    from minik8s.cli.printers import tabwrite
    client = client_for(args)
    failed = False
    for info, ns, name in _deployments(args, client, "history viewer"):
        d = client.get(info, name, ns)
        history: dict[int, object] = {}
        for rs in _owned_replicasets(client, d):
            rev = workloads.revision(rs)
            if not rev:
                continue
            tpl = type(rs.spec.template)()
            tpl.CopyFrom(rs.spec.template)
            cause = rs.metadata.annotations.get(workloads.CHANGE_CAUSE_ANNOTATION)
            if cause:
                tpl.metadata.annotations[workloads.CHANGE_CAUSE_ANNOTATION] = cause
            history[rev] = tpl
        if args.revision > 0:
            tpl = history.get(args.revision)
            if tpl is None:
                report("error: unable to find the specified revision")
                failed = True
                continue
            if args.output in ("json", "yaml"):
                _print_doc(args.output, tpl)
                continue
            from minik8s.cli.describe import Writer, _pod_template
            w = Writer()
            _pod_template(w, tpl)
            print(f"{info.resource}/{name} with revision #{args.revision}")
            sys.stdout.write(w.render())
            continue
        if args.output == "name":
            print(f"{info.resource}/{name}")
            continue
        print(f"{info.resource}/{name} ")
        if not history:
            print("No rollout history found.")
            continue
        lines = ["REVISION\tCHANGE-CAUSE"]
        for rev in sorted(history):
            cause = history[rev].metadata.annotations.get(workloads.CHANGE_CAUSE_ANNOTATION)
            lines.append(f"{rev}\t{cause or '<none>'}")
        print(tabwrite(lines, minwidth=0, padding=2))
        print()
    return 1 if failed else 0


def _print_doc(fmt: str, msg) -> None:
    from minik8s.api import codec
    from minik8s.cli.printers import dump_json, dump_yaml
    doc = codec.to_dict(msg)
    sys.stdout.write(dump_json(doc) if fmt == "json" else dump_yaml(doc))


def rollback_target(client, d, to_revision: int):
    """The ReplicaSet to roll `d` back to (kubectl's rsForRevision): that revision, or for 0 the one
    before the newest."""
    from minik8s.api import workloads
    rss = _owned_replicasets(client, d)
    if to_revision > 0:
        for rs in rss:
            if workloads.revision(rs) == to_revision:
                return rs
        raise CliError(f"unable to find specified revision {to_revision} in history")
    ranked = sorted((rs for rs in rss if workloads.revision(rs) > 0), key=workloads.revision, reverse=True)
    if len(ranked) < 2:
        raise CliError(f'no rollout history found for deployment "{d.metadata.name}"')
    return ranked[1]


def cmd_rollout_undo(args) -> int:
    from minik8s.api import workloads
    client = client_for(args)

    def undo(info, ns, name):
        d = client.get(info, name, ns)
        if d.spec.paused:
            raise CliError(f"you cannot rollback a paused deployment; resume it first with "
                           f"'minictl rollout resume deployment/{name}' and try again")
        rs = rollback_target(client, d, args.to_revision)
        if workloads.equal_ignore_hash(rs.spec.template, d.spec.template):
            _done(args, info, name, f"skipped rollback (current template already matches revision "
                                    f"{workloads.revision(rs)})")
            return
        template = workloads.template_without_hash(rs.spec.template)
        skip = workloads.SKIP_ANNOTATIONS
        annotations = {k: v for k, v in d.metadata.annotations.items() if k in skip}
        annotations.update({k: v for k, v in rs.metadata.annotations.items() if k not in skip})

        def restore(obj):
            if obj.metadata.uid != d.metadata.uid:
                raise CliError(f"{info.resource}/{name} was replaced while rolling back")
            obj.spec.template.CopyFrom(template)
            obj.metadata.annotations.clear()
            obj.metadata.annotations.update(annotations)
        _edit(client, info, ns, name, restore)
        _done(args, info, name, "rolled back")
    return _each(_deployments(args, client, "rollbacker"), undo)


def _rfc3339_local(ts: float) -> str:
    """Go's time.Now().Format(time.RFC3339): local time, `Z` for UTC."""
    from datetime import datetime
    t = datetime.fromtimestamp(int(ts)).astimezone()
    s = t.isoformat()
    return s[:-6] + "Z" if t.utcoffset() is not None and t.utcoffset().total_seconds() == 0 else s


def _set_paused(args, paused: bool, verb: str, error: str) -> int:
    client = client_for(args)

    def set_paused(info, ns, name):
        if info.kind != "Deployment":
            raise CliError(f"{_quoted(info, name)} {'pausing' if paused else 'resuming'} is not supported")

        def change(obj):
            if obj.spec.paused == paused:
                raise CliError(f"{_quoted(info, name)} {error}")
            obj.spec.paused = paused
        _edit(client, info, ns, name, change)
        _done(args, info, name, verb)
    return _each(_targets(args, args.resources, client), set_paused)


def cmd_rollout_pause(args) -> int:
    return _set_paused(args, True, "paused", "is already paused")


def cmd_rollout_resume(args) -> int:
    return _set_paused(args, False, "resumed", "is not paused")


def cmd_rollout_restart(args) -> int:
    from minik8s.api.workloads import RESTARTED_AT_ANNOTATION
    client = client_for(args)

    def restart(info, ns, name):
        if info.kind != "Deployment":
            raise CliError(f"{_quoted(info, name)} restarting is not supported")
        stamp = _rfc3339_local(time.time())

        def change(obj):
            if obj.spec.paused:
                raise CliError(f"{_quoted(info, name)} can't restart paused deployment (run rollout resume first)")
            obj.spec.template.metadata.annotations[RESTARTED_AT_ANNOTATION] = stamp
        _edit(client, info, ns, name, change)
        _done(args, info, name, "restarted")
    return _each(_targets(args, args.resources, client), restart)


# ---------------------------------------------------------------- set
def cmd_set(args) -> int:
    raise CliError("you must specify a set subcommand: image or env")


def _split_words(words: list[str], removals: bool) -> tuple[list[str], dict[str, str], list[str]]:
    resources, sets, removes = [], {}, []
    for w in words:
        if "=" in w:
            k, _, v = w.partition("=")
            if not k:
                raise CliError(f"invalid spec: {w}")
            sets[k] = v
        elif removals and w.endswith("-") and len(w) > 1 and "/" not in w:
            removes.append(w[:-1])
        else:
            resources.append(w)
    return resources, sets, removes


def cmd_set_image(args) -> int:
    words, images, _ = _split_words(args.args, removals=False)
    if not images:
        raise CliError("at least one image update is required")
    client = client_for(args)

    def set_image(info, ns, name):
        def change(obj):
            spec = _pod_spec_of(obj)
            if spec is None:
                raise CliError(f"{info.resource}/{name} has no pod template")
            changed = False
            for cname, image in images.items():
                found = False
                for c in list(spec.initContainers) + list(spec.containers):
                    if cname == "*" or c.name == cname:
                        found = True
                        if c.image != image:
                            c.image = image
                            changed = True
                if not found:
                    raise CliError(f'unable to find container named "{cname}"')
            return changed
        if _edit(client, info, ns, name, change)[0]:
            _done(args, info, name, "image updated")
    return _each(_targets(args, words, client), set_image)


def cmd_set_env(args) -> int:
    import fnmatch
    from minik8s.api.pb import core_pb2
    words, sets, removes = _split_words(args.args, removals=True)
    for e in args.env:
        k, sep, v = e.partition("=")
        if not sep or not k:
            raise CliError(f"invalid env: {e}")
        sets[k] = v
    if not args.list and not sets and not removes:
        raise CliError("at least one environment variable must be provided")
    client = client_for(args)

    def containers(spec):
        return [c for c in list(spec.initContainers) + list(spec.containers)
                if fnmatch.fnmatchcase(c.name, args.containers)]

    def set_env(info, ns, name):
        if args.list:
            obj = client.get(info, name, ns)
            spec = _pod_spec_of(obj)
            if spec is None:
                raise CliError(f"{info.resource}/{name} has no pod template")
            for c in containers(spec):
                print(f"# {info.plural}/{name}, container {c.name}")
                for e in c.env:
                    if e.HasField("valueFrom"):
                        src = e.valueFrom
                        if src.HasField("fieldRef"):
                            print(f"# {e.name} from field path {src.fieldRef.fieldPath}")
                        else:
                            print(f"# {e.name} from a source")
                    else:
                        print(f"{e.name}={e.value}")
            return

        def change(obj):
            spec = _pod_spec_of(obj)
            if spec is None:
                raise CliError(f"{info.resource}/{name} has no pod template")
            targets = containers(spec)
            if not targets:
                raise CliError(f'unable to find container named {args.containers}')
            changed = False
            for c in targets:
                new_env, seen, this = [], set(), False
                for e in c.env:
                    if e.name in removes:
                        this = True
                        continue
                    ne = core_pb2.EnvVar()
                    ne.CopyFrom(e)
                    v = sets.get(e.name)
                    if v is not None and args.overwrite and (e.value != v or e.HasField("valueFrom")):
                        ne.ClearField("valueFrom")
                        ne.value = v
                        this = True
                    new_env.append(ne)
                    seen.add(e.name)
                for k, v in sets.items():
                    if k not in seen:
                        new_env.append(core_pb2.EnvVar(name=k, value=v))
                        this = True
                if this:
                    del c.env[:]
                    c.env.extend(new_env)
                    changed = True
            return changed
        if _edit(client, info, ns, name, change)[0]:
            _done(args, info, name, "env updated")
    return _each(_targets(args, words, client), set_env)
