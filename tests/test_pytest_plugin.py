"""The pytest plugin for users (minik8s/testing/), driven as a user's project drives it: a test file that
uses only the plugin's fixtures (tests/plugin_user/user_tests.py) passes under plain pytest and under
pytest-xdist, both runs at once on this machine; each run's clusters are gone when it ends; a run that
asks for none of the fixtures starts nothing."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
RUN_TIMEOUT = 420


def _project(root, test_file_text: str):
    """A user's project: the test file and a pytest.ini of its own (pytest-asyncio in strict mode, the
    default), so nothing of this repository's configuration or conftest applies."""
    root.mkdir()
    (root / "test_app.py").write_text(test_file_text)
    (root / "pytest.ini").write_text("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    return root


def _pytest(project, *args: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    return subprocess.Popen([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
                             "--basetemp", str(project / "tmp"), *args],
                            cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finish(proc: subprocess.Popen) -> str:
    try:
        out, _ = proc.communicate(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        pytest.fail(f"pytest did not finish in {RUN_TIMEOUT} s:\n{out[-4000:]}")
    return out


def _clusters_started(basetemp) -> list[str]:
    """The cluster directories the plugin made under a run's (or worker's) temporary directory."""
    if not os.path.isdir(basetemp):
        return []
    return sorted(d for d in os.listdir(basetemp) if d.startswith("minik8s-") and not d.endswith("current"))


def _processes_under(path) -> list[str]:
    """Command lines of live processes naming `path` (a cluster's components carry their home in argv)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(path) in cmd:
            found.append(cmd)
    return found


@pytest.mark.timeout(RUN_TIMEOUT + 60)
def test_user_tests_pass_alone_and_under_xdist_at_once(tmp_path):
    with open(os.path.join(HERE, "plugin_user", "user_tests.py")) as f:
        text = f.read()
    plain = _project(tmp_path / "plain", text)
    parallel = _project(tmp_path / "xdist", text)
    runs = [(plain, _pytest(plain)), (parallel, _pytest(parallel, "-n", "2"))]
    for project, proc in runs:
        out = _finish(proc)
        assert proc.returncode == 0, out[-6000:]
        assert re.search(r"\b6 passed\b", out), out[-3000:]
        # down --purge ran: no cluster home left, no component still running
        homes = [os.path.join(d, "home") for d, _, _ in os.walk(project / "tmp")
                 if os.path.isdir(os.path.join(d, "home"))]
        assert homes == []
        assert _processes_under(project) == []
    # each xdist worker started clusters of its own, in its own temporary directory
    assert _clusters_started(parallel / "tmp" / "popen-gw0") and _clusters_started(parallel / "tmp" / "popen-gw1")


def test_a_run_without_the_fixtures_starts_no_cluster(tmp_path):
    project = _project(tmp_path / "other", "def test_plain():\n    assert 1 + 1 == 2\n")
    proc = _pytest(project)
    out = _finish(proc)
    assert proc.returncode == 0 and "1 passed" in out, out
    assert _clusters_started(project / "tmp") == []


def test_a_bad_marker_is_a_usage_error_naming_it(tmp_path):
    project = _project(tmp_path / "bad", "import pytest\n\n"
                                         "@pytest.mark.minik8s(nodes=0)\n"
                                         "def test_x(minik8s_cluster):\n    pass\n")
    proc = _pytest(project)
    out = _finish(proc)
    assert proc.returncode != 0
    assert "@pytest.mark.minik8s: minik8s nodes 0: expected a whole number of at least 1" in out, out
    assert _clusters_started(project / "tmp") == []


# ---------------------------------------------------------------- what the plugin starts clusters with
def test_up_port_0_serves_on_a_free_port_that_later_ups_keep(tmp_path):
    import yaml
    from support.minictl import Ctl
    ctl = Ctl(str(tmp_path / "home"))
    try:
        up = ctl("up", "--port", "0", "--runtime", "fake", "--nodes", "1")
        assert up.returncode == 0, up.stdout + up.stderr
        with open(tmp_path / "home" / "cluster.yaml") as f:
            port = yaml.safe_load(f)["apiServer"]["port"]
        assert port != 0
        assert f"cluster is up: server 127.0.0.1:{port}," in up.stdout
        with ctl.client() as client:
            assert client.version().gitVersion
        again = ctl("up")           # the recorded port, not 0 again: the running server is found there
        assert again.returncode == 0 and "apiserver: already running" in again.stdout, again.stdout + again.stderr
        assert f"server 127.0.0.1:{port}," in again.stdout
    finally:
        ctl("down", "--purge", timeout=120)


# ---------------------------------------------------------------- the helpers, on an API server alone
CONFIG_MAP = """
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  labels: {tier: back}
data: {mode: fast}
"""


def test_apply_creates_then_patches_what_the_manifest_names(client):
    from minik8s.testing.helpers import Apply
    apply = Apply(client, "default")
    [created] = apply(CONFIG_MAP)
    assert (created.metadata.namespace, dict(created.data)) == ("default", {"mode": "fast"})
    client.patch("ConfigMap", "settings", {"metadata": {"annotations": {"kept": "yes"}}}, "default")
    [patched] = apply(CONFIG_MAP.replace("mode: fast", "mode: slow"))
    assert dict(patched.data) == {"mode": "slow"}
    assert dict(patched.metadata.annotations) == {"kept": "yes"}     # not in the manifest: left alone
    assert patched.metadata.uid == created.metadata.uid


def test_apply_reads_files_and_refuses_bad_manifests_whole(client, tmp_path):
    from minik8s.api.manifest import ManifestError
    from minik8s.testing.helpers import Apply
    apply = Apply(client, "default")
    path = tmp_path / "two.yaml"
    path.write_text(CONFIG_MAP + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: bad}\ndata: {x: [1]}\n")
    with pytest.raises(ManifestError, match=r"two.yaml: doc 2: data"):
        apply(path)
    assert [c.metadata.name for c in client.list("ConfigMap", "default")] == []
    with pytest.raises(ManifestError, match='the path "missing.yaml" does not exist'):
        apply("missing.yaml")


def test_wait_for_returns_the_object_or_fails_naming_what_it_waited_for(client):
    from minik8s.testing.helpers import Apply, WaitFor
    [settings] = Apply(client, "default")(CONFIG_MAP)
    wait_for = WaitFor(client, "default")
    assert wait_for(settings, lambda c: c.data["mode"] == "fast").metadata.uid == settings.metadata.uid
    assert wait_for("configmap/settings", "jsonpath={.data.mode}=fast").data["mode"] == "fast"
    with pytest.raises(AssertionError, match=r"configmap/settings in default: 'jsonpath=\{.data.mode\}=slow' "
                                             r"not met within 0.3 s \(last seen: .*'mode': 'fast'"):
        wait_for("configmap/settings", "jsonpath={.data.mode}=slow", timeout=0.3)
    with pytest.raises(AssertionError, match=r"configmap/later in default: 'create' not met within 0.3 s"):
        wait_for("configmap/later", "create", timeout=0.3)
    client.delete("ConfigMap", "settings", "default")
    assert wait_for(settings, "delete") is None
