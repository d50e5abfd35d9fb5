"""One local cluster for a test run: `minictl up` in a home of its own with `--port 0`, so any number of
test runs and pytest-xdist workers on one machine never share a port, a home or a kubeconfig; stopped
and removed with `minictl down --purge`.

The cluster file leaves out the cluster DNS: it holds one host-wide address (10.96.0.10), which a
developer's own cluster or a parallel run may hold already. Pods then resolve through the host's
resolvers, as upstream's ClusterFirst falls back to Default without a cluster DNS."""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass

import yaml

UP_TIMEOUT = 120.0      # seconds `minictl up` may take: the API server, then every node Ready
DOWN_TIMEOUT = 120.0
RUNTIMES = ("fake", "process", "docker", "auto")
LOG_TAIL = 3000         # characters of a component's log shown when the cluster fails to start


@dataclass(frozen=True)
class Shape:
    """What a test asks of its cluster. `fake` nodes run no process per pod, so clusters of them run side
    by side; `process` and `docker` nodes of parallel clusters share the host's node bridges."""
    runtime: str = "fake"
    nodes: int = 1

    def __post_init__(self):
        if self.runtime not in RUNTIMES:
            raise ValueError(f"minik8s runtime {self.runtime!r}: expected one of {', '.join(RUNTIMES)}")
        if isinstance(self.nodes, bool) or not isinstance(self.nodes, int) or self.nodes < 1:
            raise ValueError(f"minik8s nodes {self.nodes!r}: expected a whole number of at least 1")

    @property
    def id(self) -> str:
        return f"{self.runtime}-{self.nodes}node{'s' if self.nodes > 1 else ''}"


class ClusterStartError(RuntimeError):
    """`minictl up` failed; the message carries its output and the API server's log."""


class LocalCluster:
    """A cluster under `home` (which it owns and removes), started by `start()`, removed by `stop()`."""

    def __init__(self, home: str, shape: Shape = Shape()):
        self.home = os.path.abspath(home)
        self.shape = shape
        # `minictl up` merges its context into $KUBECONFIG: here a file of the cluster's own, never the user's
        self._env = dict(os.environ, MINIK8S_HOME=self.home,
                         KUBECONFIG=os.path.join(os.path.dirname(self.home), "merged-kubeconfig"))

    def _minictl(self, *args: str, timeout: float) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "minik8s.cli.main", "--home", self.home, *args],
                              env=self._env, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)

    def start(self) -> "LocalCluster":
        os.makedirs(os.path.dirname(self.home), exist_ok=True)
        cluster_file = os.path.join(os.path.dirname(self.home), "cluster.yaml")
        with open(cluster_file, "w") as f:
            yaml.safe_dump({"apiVersion": "minik8s.io/v1alpha1", "kind": "Cluster",
                            "runtime": self.shape.runtime, "nodes": self.shape.nodes,
                            "kubelet": {"clusterDNS": []}}, f, sort_keys=False)
        try:
            up = self._minictl("up", "-f", cluster_file, "--port", "0", "--timeout", str(UP_TIMEOUT),
                               timeout=UP_TIMEOUT + 30)
        except subprocess.TimeoutExpired as e:
            self.stop()
            raise ClusterStartError(f"minictl up did not finish in {UP_TIMEOUT + 30:g} s") from e
        if up.returncode != 0:
            log = self._log_tail("apiserver")
            self.stop()
            raise ClusterStartError(f"minictl up failed ({up.returncode}):\n{up.stdout}{up.stderr}"
                                    f"\n--- apiserver log (end) ---\n{log}")
        return self

    def _log_tail(self, component: str) -> str:
        try:
            with open(os.path.join(self.home, "logs", f"{component}.log"), errors="replace") as f:
                return f.read()[-LOG_TAIL:]
        except OSError as e:
            return str(e)

    def stop(self) -> None:
        """Stop every component and remove the home; a failure is raised with minictl's output."""
        down = self._minictl("down", "--purge", timeout=DOWN_TIMEOUT)
        if down.returncode != 0:
            raise RuntimeError(f"minictl down --purge failed ({down.returncode}):\n{down.stdout}{down.stderr}")

    # the client's imports (grpc) wait until a test asks for a client: pytest loads this module at start-up
    @property
    def config(self):
        """The admin's server address and token (HOME/config.yaml), a minik8s.client ClientConfig."""
        from minik8s.client.config import ClientConfig
        return ClientConfig.load(self.home)

    @property
    def kubeconfig(self) -> str:
        """HOME/kubeconfig: the REST API for kubectl and the official clients, context `minik8s`."""
        return os.path.join(self.home, "kubeconfig")

    def client(self, **kw):
        """The admin's sync client (minik8s.client.client.Client)."""
        from minik8s.client.client import Client
        return Client(config=self.config, **kw)

    def async_client(self, **kw):
        """The admin's asyncio client (minik8s.client.aio.AsyncClient)."""
        from minik8s.client.aio import AsyncClient
        return AsyncClient(config=self.config, **kw)

    def minictl(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess:
        """Run `minictl ARGS` on this cluster (output captured, as text)."""
        return self._minictl(*args, timeout=timeout)
