"""Kubeconfig files: `minictl up` writes `$MINIK8S_HOME/kubeconfig` (the REST API's address, the admin's
token, the CA when the server serves TLS) so the real kubectl and client libraries reach the cluster,
and merges it into ~/.kube/config (or the first file of $KUBECONFIG) as context `minik8s`; the
`kubeconfig` and `config` commands (configcmds.py) read and switch it. Shared by both, no command here."""
from __future__ import annotations

import os

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


def load(path: str) -> dict:
    import yaml
    try:
        with open(path) as f:
            return yaml.safe_load(f) or {}
    except FileNotFoundError:
        return {}


def save(path: str, data: dict) -> None:
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
    save(path, kubeconfig(f"{scheme}://{host}:{port}", token, ca_file))
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
    source = load(kubeconfig_path(home))
    if not source:
        raise FileNotFoundError(f"no kubeconfig at {kubeconfig_path(home)}: run `minictl up` first")
    path = user_kubeconfig()
    save(path, merge(source, load(path), switch))
    return path
