"""The pytest plugin (entry point `pytest11: minik8s`): fixtures that test a user's code against a real
local minik8s cluster.

- `minik8s_cluster` (session): a `LocalCluster`, started at first use under the run's temporary
  directory with `--port 0` (so parallel runs and pytest-xdist workers each have their own), removed
  with `minictl down --purge` at the end of the session. Its shape comes from `--minik8s-runtime`
  (default fake) and `--minik8s-nodes` (default 1); a test, class or module marked
  `@pytest.mark.minik8s(runtime=..., nodes=...)` gets a cluster of that shape instead, one per shape
  for the session (pytest groups the tests by shape, as for any parametrized session fixture).
- `minik8s_namespace`: a fresh namespace per test, deleted after it.
- `minik8s_client` / `minik8s_aclient`: the admin's minik8s clients (sync, and asyncio under
  pytest-asyncio).
- `kubeconfig`: the path of a kubeconfig whose context is the test's namespace, also set as
  $KUBECONFIG for the test, so code written for the official `kubernetes` client runs unchanged.
- `apply` and `wait_for`: `helpers.Apply` and `helpers.WaitFor` in the test's namespace.

Nothing starts unless a test asks for one of these fixtures; the imports of the client and the API
model wait until then, so a pytest run that uses none of this pays next to nothing for it."""
from __future__ import annotations

import os
import re
import secrets
import sys
from dataclasses import replace

import pytest

from minik8s.testing.cluster import RUNTIMES, LocalCluster, Shape

MARKER = "minik8s"
NAMESPACE_PREFIX = "test-"
OFFICIAL_KUBECONFIG_MODULES = ("kubernetes.config.kube_config", "kubernetes_asyncio.config.kube_config")


def pytest_addoption(parser):
    group = parser.getgroup("minik8s", "minik8s cluster for tests (fixtures minik8s_cluster, ...)")
    group.addoption("--minik8s-runtime", default="fake", choices=RUNTIMES,
                    help="runtime of the test cluster's nodes (default fake: pods simulated, no root)")
    group.addoption("--minik8s-nodes", type=int, default=1, help="node count of the test cluster (default 1)")


def pytest_configure(config):
    config.addinivalue_line("markers", f"{MARKER}(runtime=None, nodes=None): the shape of the minik8s cluster "
                                       "this test gets (minik8s_cluster and the fixtures built on it)")
    if config.getoption("minik8s_nodes") < 1:
        raise pytest.UsageError(f"--minik8s-nodes {config.getoption('minik8s_nodes')}: expected at least 1")


def _default_shape(config) -> Shape:
    return Shape(config.getoption("minik8s_runtime"), config.getoption("minik8s_nodes"))


def pytest_generate_tests(metafunc):
    """A marked test that uses the cluster gets its shape as the fixture's parameter: pytest then keeps
    one fixture value per shape and orders the tests so that each shape is set up once."""
    marker = metafunc.definition.get_closest_marker(MARKER)
    if marker is None or "minik8s_cluster" not in metafunc.fixturenames:
        return
    if marker.args:
        raise pytest.UsageError(f"{metafunc.definition.nodeid}: @pytest.mark.{MARKER} takes runtime= and nodes= only")
    try:
        # what the marker leaves out (or sets to None) comes from the command line
        shape = replace(_default_shape(metafunc.config), **{k: v for k, v in marker.kwargs.items() if v is not None})
    except (TypeError, ValueError) as e:
        raise pytest.UsageError(f"{metafunc.definition.nodeid}: @pytest.mark.{MARKER}: {e}") from None
    metafunc.parametrize("minik8s_cluster", [shape], indirect=True, ids=[shape.id])


class _Clusters:
    """The session's clusters, one per shape, started on first use and all removed at the end."""

    def __init__(self, tmp_path_factory):
        self._tmp, self._started = tmp_path_factory, {}

    def get(self, shape: Shape) -> LocalCluster:
        if shape not in self._started:
            home = self._tmp.mktemp(f"minik8s-{shape.id}") / "home"
            self._started[shape] = LocalCluster(str(home), shape).start()
        return self._started[shape]

    def stop_all(self) -> None:
        errors = []
        for cluster in self._started.values():
            try:
                cluster.stop()
            except Exception as e:  # the others are still removed; every failure is reported
                errors.append(str(e))
        self._started.clear()
        if errors:
            raise RuntimeError("\n".join(errors))


@pytest.fixture(scope="session")
def _minik8s_clusters(tmp_path_factory):
    clusters = _Clusters(tmp_path_factory)
    yield clusters
    clusters.stop_all()


@pytest.fixture(scope="session")
def minik8s_cluster(request, _minik8s_clusters):
    """A running local cluster (LocalCluster: home, kubeconfig, client(), async_client(), minictl())."""
    shape = getattr(request, "param", None) or _default_shape(request.config)
    return _minik8s_clusters.get(shape)


@pytest.fixture
def minik8s_client(minik8s_cluster):
    """The admin's sync minik8s client (minik8s.client.Client) on the test's cluster."""
    with minik8s_cluster.client() as client:
        yield client


def _namespace_name(test_name: str) -> str:
    slug = re.sub(r"[^a-z0-9-]+", "-", test_name.lower()).strip("-")
    suffix = secrets.token_hex(3)
    return f"{NAMESPACE_PREFIX}{slug[:63 - len(NAMESPACE_PREFIX) - len(suffix) - 1].strip('-')}-{suffix}"


@pytest.fixture
def minik8s_namespace(request, minik8s_client):
    """A namespace of this test's own (named after it), deleted with what is in it after the test."""
    from minik8s.api import codec
    from minik8s.api.errors import NotFound
    from minik8s.api.kinds import lookup
    namespace = lookup("namespace")
    name = _namespace_name(request.node.name)
    minik8s_client.create(codec.from_dict(namespace.message, {
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
    yield name
    try:
        minik8s_client.delete(namespace, name)
    except NotFound:
        pass


@pytest.fixture
def kubeconfig(minik8s_cluster, minik8s_namespace, tmp_path, monkeypatch):
    """A kubeconfig file for the official clients and kubectl, its context in the test's namespace; also
    $KUBECONFIG while the test runs, so `config.load_kube_config()` with no argument finds it."""
    from minik8s.cli.kubeconfig import load, save
    data = load(minik8s_cluster.kubeconfig)
    for context in data["contexts"]:
        context["context"]["namespace"] = minik8s_namespace
    path = os.path.join(tmp_path, "kubeconfig")
    save(path, data)
    monkeypatch.setenv("KUBECONFIG", path)
    # the official clients read $KUBECONFIG once, when imported: a test module that imported them first
    # would otherwise get the user's own cluster
    for module in OFFICIAL_KUBECONFIG_MODULES:
        if module in sys.modules:
            monkeypatch.setattr(sys.modules[module], "KUBE_CONFIG_DEFAULT_LOCATION", path)
    return path


@pytest.fixture
def apply(minik8s_client, minik8s_namespace):
    """`apply(yaml_text_or_path, namespace=None)` -> the stored objects (helpers.Apply)."""
    from minik8s.testing.helpers import Apply
    return Apply(minik8s_client, minik8s_namespace)


@pytest.fixture
def wait_for(minik8s_client, minik8s_namespace):
    """`wait_for(obj_or_"kind/name", condition, timeout=60)` -> the object once it meets the condition
    (helpers.WaitFor)."""
    from minik8s.testing.helpers import WaitFor
    return WaitFor(minik8s_client, minik8s_namespace)


try:
    import pytest_asyncio
except ImportError:         # the asyncio client needs pytest-asyncio to run its fixture on the test's loop
    @pytest.fixture
    def minik8s_aclient():
        pytest.fail("minik8s_aclient needs pytest-asyncio (pip install pytest-asyncio)", pytrace=False)
else:
    @pytest_asyncio.fixture
    async def minik8s_aclient(minik8s_cluster):
        """The admin's asyncio minik8s client (minik8s.client.aio.AsyncClient) on the test's cluster."""
        async with minik8s_cluster.async_client() as client:
            yield client
