"""Putting a node together, for `python -m kubelet` and the fake node host alike: which runtime a node
runs (`auto`: docker when an engine answers, else process), the runtime object, the node's token
(where `minictl up` writes it), and a whole Kubelet as the cluster file describes the node."""
from __future__ import annotations

import os

from kubelet import config as kconfig
from minik8s.client.home import node_identity, token_file
from kubelet.paths import node_root


def docker_answers(timeout: float = 3) -> bool:
    """Whether a Docker engine answers a ping within `timeout` seconds."""
    try:
        import docker
        client = docker.from_env(timeout=timeout)
    except Exception:
        return False
    try:
        return bool(client.ping())
    except Exception:
        return False
    finally:
        client.close()


def resolve_runtime(kind: str) -> str:
    if kind == "auto":
        return "docker" if docker_answers() else "process"
    if kind not in ("docker", "process", "fake"):
        raise ValueError(f'unknown runtime "{kind}": use auto, docker, process or fake')
    return kind


def make_runtime(kind: str, home: str, node: str, pod_cidr: str, settings: kconfig.Settings, clock=None):
    state = os.path.join(node_root(home, node), "runtime")
    if kind == "docker":
        from kubelet.runtime.docker import DockerRuntime
        return DockerRuntime(node_name=node, pod_cidr=pod_cidr, state_dir=state)
    if kind == "process":
        from kubelet.runtime.process import ProcessRuntime
        return ProcessRuntime(state_dir=state, node_name=node, pod_cidr=pod_cidr,
                              log_max_bytes=settings.log_max_bytes)
    from kubelet.runtime.fake import FakeRuntime
    return FakeRuntime(node_name=node, pod_cidr=pod_cidr, clock=clock)


def token_file_for(home: str, node: str) -> str:
    """Where `minictl up` writes a node's token."""
    return token_file(home, node_identity(node))


def read_token(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


def build_kubelet(home: str, node: str, token: str, runtime_kind: str | None = None, config_path: str | None = None,
                  address: str | None = None, client=None, clock=None):
    """A Kubelet for `node` as the cluster file describes it (not started)."""
    from minik8s.client.aio import AsyncClient
    from minik8s.client.config import ClientConfig
    from kubelet.agent import Kubelet
    cfg, settings = kconfig.load(home, node, config_path, runtime_kind)
    cfg.runtime = resolve_runtime(cfg.runtime)
    if not cfg.pod_cidr:
        cfg.pod_cidr = kconfig.default_pod_cidr(cfg.runtime, cfg.index)
    if client is None:
        cc = ClientConfig.load(home)
        client = AsyncClient(cc.server, token, cc.ca_file)
    runtime = make_runtime(cfg.runtime, home, node, cfg.pod_cidr, settings, clock)
    return Kubelet(client, runtime, cfg, home, settings, clock=clock, address=address)
