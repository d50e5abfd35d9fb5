"""Kubeconfig: `minictl up` writes `$MINIK8S_HOME/kubeconfig` (the REST API's address, the admin's
token, the CA when the server serves TLS) so the real kubectl and client libraries reach the cluster;
`minictl kubeconfig` merges it into ~/.kube/config (or the first file of $KUBECONFIG) as context
`minik8s`, `minictl config view` prints that file and `minictl config use-context NAME` switches to a
context."""
from __future__ import annotations

import os
import sys

CONTEXT = "minik8s"
USER = "minik8s-admin"


def kubeconfig_path(home: str) -> str:
    return os.path.join(home, "kubeconfig")


def user_kubeconfig() -> str:
    """Where kubectl reads by default: the first file of $KUBECONFIG, else ~/.kube/config."""
    env = os.environ.get("KUBECONFIG", "")
    first = next((p for p in env.split(os.pathsep) if p), "")
    return first or os.path.expanduser("~/.kube/config")


def kubeconfig(server: str, token: str, ca_file: str | None = None) -> dict:
    cluster = {"server": server}
    if ca_file:
        cluster["certificate-authority"] = os.path.abspath(ca_file)
    return {"apiVersion": "v1", "kind": "Config", "preferences": {},
            "clusters": [{"name": CONTEXT, "cluster": cluster}],
            "users": [{"name": USER, "user": {"token": token}}],
            "contexts": [{"name": CONTEXT, "context": {"cluster": CONTEXT, "user": USER, "namespace": "default"}}],
            "current-context": CONTEXT}


def _read(path: str) -> dict:
    import yaml
    try:
        with open(path) as f:
            return yaml.safe_load(f) or {}
    except FileNotFoundError:
        return {}


def _write(path: str, data: dict) -> None:
    import yaml
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        yaml.safe_dump(data, f, sort_keys=False)
    os.replace(path + ".tmp", path)


def write_kubeconfig(home: str, host: str, port: int, token: str, ca_file: str | None = None) -> str:
    """Write HOME/kubeconfig for the REST API at host:port (https when there is a CA)."""
    scheme = "https" if ca_file else "http"
    host = f"[{host}]" if ":" in host else host
    path = kubeconfig_path(home)
    _write(path, kubeconfig(f"{scheme}://{host}:{port}", token, ca_file))
    return path


def merge(source: dict, target: dict, switch: bool) -> dict:
    """`target` with the clusters, users and contexts of `source` put in by name; current-context is set
    when asked or when the target has none."""
    out = dict(target)
    out.setdefault("apiVersion", "v1")
    out.setdefault("kind", "Config")
    for section in ("clusters", "users", "contexts"):
        names = {e["name"] for e in source.get(section) or ()}
        out[section] = [e for e in (target.get(section) or ()) if e.get("name") not in names] + \
            list(source.get(section) or ())
    if switch or not out.get("current-context"):
        out["current-context"] = source.get("current-context", CONTEXT)
    return out


def merge_into_user_config(home: str, switch: bool = False) -> str:
    source = _read(kubeconfig_path(home))
    if not source:
        raise FileNotFoundError(f"no kubeconfig at {kubeconfig_path(home)}: run `minictl up` first")
    path = user_kubeconfig()
    _write(path, merge(source, _read(path), switch))
    return path


def _home(args) -> str:
    from minik8s.client.config import home_dir
    return home_dir(getattr(args, "home", None))


def cmd_kubeconfig(args) -> int:
    path = merge_into_user_config(_home(args), switch=getattr(args, "use", False))
    print(f'context "{CONTEXT}" written to {path}; use it with: kubectl --context {CONTEXT} get pods')
    return 0


def cmd_config(args) -> int:
    import yaml
    if args.action == "view":
        data = _read(args.kubeconfig or user_kubeconfig())
        if not args.raw:
            for u in data.get("users") or ():
                if isinstance(u.get("user"), dict) and "token" in u["user"]:
                    u["user"]["token"] = "REDACTED"
        yaml.safe_dump(data, sys.stdout, sort_keys=False)
        return 0
    if args.action == "use-context":
        if not args.name:
            print("error: use-context needs a context name", file=sys.stderr)
            return 1
        if args.name == CONTEXT and os.path.exists(kubeconfig_path(_home(args))):
            merge_into_user_config(_home(args))
        path = args.kubeconfig or user_kubeconfig()
        data = _read(path)
        if args.name not in {c.get("name") for c in data.get("contexts") or ()}:
            print(f'error: no context exists with the name: "{args.name}"', file=sys.stderr)
            return 1
        data["current-context"] = args.name
        _write(path, data)
        print(f'Switched to context "{args.name}".')
        return 0
    print(f"error: unknown config command {args.action!r}: view or use-context", file=sys.stderr)
    return 1


def _kubeconfig_flags(p):
    p.add_argument("--use", action="store_true", help="also make minik8s the current context")


def _config_flags(p):
    p.add_argument("action", choices=["view", "use-context"], help="view | use-context NAME")
    p.add_argument("name", nargs="?", help="the context, for use-context")
    p.add_argument("--kubeconfig", help="the kubeconfig file (default $KUBECONFIG or ~/.kube/config)")
    p.add_argument("--raw", action="store_true", help="show tokens")


COMMANDS = [
    ("kubeconfig", "kubeconfig:cmd_kubeconfig", "Merge the cluster's kubeconfig into ~/.kube/config as "
                                               "context minik8s", _kubeconfig_flags),
    ("config", "kubeconfig:cmd_config", "View the kubeconfig or switch its current context", _config_flags),
]
