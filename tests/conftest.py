"""Shared test fixtures: a real API server per test (`srv`) or per module (`module_srv`), clients on
it (`client`, `admin`), and the docker/root markers. Waiting helpers live in `tests/support/`.

Async tests are plain `async def` tests run by pytest-asyncio (auto mode, a fresh event loop per test)."""
# --- docker / root markers ------------------------------------------------------------
# A test marked @pytest.mark.docker needs a Docker engine, one marked @pytest.mark.root needs
# root (network namespaces). Where that is missing the test is skipped with the reason, or,
# when MINIK8S_REQUIRE_DOCKER=1 (CI), fails with it instead: CI must never pass by skipping.
import functools as _functools
import os as _os

import pytest as _pytest


def _docker_address() -> str:
    return _os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


@_functools.lru_cache(maxsize=None)
def _docker_available() -> bool:
    """Whether a Docker engine answers a ping (asked once per session, 5 s at most)."""
    from kubelet.app import docker_answers
    return docker_answers(timeout=5)


def _is_root() -> bool:
    return _os.geteuid() == 0


_NEEDS = {
    "docker": (_docker_available, lambda: f"needs a Docker engine: none answers at {_docker_address()}"),
    "root": (_is_root, lambda: "needs root for network namespaces"),
}


# Hook functions carry their own names (hookimpl specname) so that hooks of the same name
# added to this conftest later do not silently replace these.
@_pytest.hookimpl(specname="pytest_configure")
def pytest_minik8s_markers_configure(config):
    registered = {line.split(":", 1)[0].strip() for line in config.getini("markers")}
    if "docker" not in registered:
        config.addinivalue_line("markers", "docker: needs a Docker engine")
    if "root" not in registered:
        config.addinivalue_line("markers", "root: needs root for network namespaces")


def _missing(item):
    """The reason ``item`` cannot run here, or None."""
    for name, (available, reason) in _NEEDS.items():
        if item.get_closest_marker(name) is not None and not available():
            return reason()
    return None


@_pytest.hookimpl(specname="pytest_collection_modifyitems")
def pytest_minik8s_markers_collection_modifyitems(config, items):
    # Skips are marked at collection so that reports point at the test, not at this file.
    if _os.environ.get("MINIK8S_REQUIRE_DOCKER") == "1":
        return
    for item in items:
        reason = _missing(item)
        if reason is not None:
            item.add_marker(_pytest.mark.skip(reason=reason))


@_pytest.hookimpl(tryfirst=True, specname="pytest_runtest_setup")
def pytest_minik8s_markers_runtest_setup(item):
    # Runs before any fixture, so a test that cannot run here never half-starts. (Without
    # MINIK8S_REQUIRE_DOCKER the skip marks added at collection take care of it.)
    if _os.environ.get("MINIK8S_REQUIRE_DOCKER") != "1":
        return
    reason = _missing(item)
    if reason is not None:
        _pytest.fail(f"{reason} (MINIK8S_REQUIRE_DOCKER=1 forbids skipping)", pytrace=False)


# --- the user's kubeconfig ----------------------------------------------------------------------
# `minictl up` merges its context into $KUBECONFIG (else ~/.kube/config). No test may write the
# real user's file: for the whole session KUBECONFIG names a file of the session's own, which every
# `minictl up` the tests and lessons start inherits. A test wanting a file of its own sets its own.
@_pytest.fixture(scope="session", autouse=True)
def session_kubeconfig(tmp_path_factory):
    with _pytest.MonkeyPatch.context() as mp:
        mp.setenv("KUBECONFIG", str(tmp_path_factory.mktemp("kube") / "config"))
        yield


# --- API server fixtures -------------------------------------------------------------------
# @pytest.mark.apiserver_args("--watch-window", "50") on a test or module starts the server with
# those flags.
from cluster import ApiServerProcess as _ApiServerProcess  # noqa: E402


def _started(request, home: str) -> _ApiServerProcess:
    marker = request.node.get_closest_marker("apiserver_args")
    return _ApiServerProcess(home, tuple(marker.args) if marker else ()).start()


@_pytest.fixture
def srv(request, tmp_path):
    """A real API server process of this test's own, tokens for every identity."""
    s = _started(request, str(tmp_path))
    yield s
    s.close()


@_pytest.fixture(scope="module")
def module_srv(request, tmp_path_factory):
    """One API server for a whole module, for tests that keep to their own names or namespaces."""
    s = _started(request, str(tmp_path_factory.mktemp("apiserver")))
    yield s
    s.close()


@_pytest.fixture
def client(srv):
    """The admin's sync client on `srv` (closed with the server)."""
    return srv.client()


@_pytest.fixture
async def admin(srv):
    """The admin's asyncio client on `srv`."""
    async with srv.async_client() as c:
        yield c


def pytest_collection_modifyitems(session, config, items):
    """The lessons first: they run in order in one home, so under pytest-xdist (`--dist loadfile`, as
    CI runs) their file is one unit on one worker, the longest; started first, it ends with the rest."""
    items.sort(key=lambda item: not item.nodeid.startswith("tests/test_tutorials.py"))
