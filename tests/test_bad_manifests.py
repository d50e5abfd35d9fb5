"""`minictl apply -f` on each manifest of tests/bad_manifests/ fails with status 1 and one error line
naming the offending field, and the server stores nothing: no object of the manifest's kinds exists
afterwards.

Each corpus file says what it expects in its header: `# expect: <text the error line contains>`, and
`# kind: <Kind>` where the kinds to check cannot be read from the documents. Files marked
`# check: validation` are caught by the server's validation (minik8s/api/validation.py) rather than
by the client's decoder; they run after the decoder cases."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from cluster import ROOT, ApiServerProcess
from minik8s.api.kinds import KINDS
from minik8s.client.config import ClientConfig

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bad_manifests")


def _cases():
    cases = []
    for name in sorted(os.listdir(CORPUS)):
        if not name.endswith((".yaml", ".yml", ".json")):
            continue
        text = open(os.path.join(CORPUS, name)).read()
        expect = re.search(r"^# expect: (.+)$", text, re.M).group(1).strip()
        kinds = re.findall(r"^# kind: (\w+)", text, re.M) or re.findall(r"^kind: (\w+)\s*$", text, re.M)
        kinds = sorted({k for k in kinds if k in KINDS})
        assert kinds, f"{name}: no kind to check"
        validation = bool(re.search(r"^# check: validation", text, re.M))
        cases.append(pytest.param(name, expect, kinds, id=("validation-" if validation else "decoder-") + name))
    # decoder cases first; the server-validation ones at the end
    return sorted(cases, key=lambda p: p.id.startswith("validation-"))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    home = str(tmp_path_factory.mktemp("minik8s-bad"))
    srv = ApiServerProcess(home).start()
    ClientConfig(server=srv.address, token=srv.tokens["admin"]).save(home)
    yield srv, home
    srv.close()


def minictl(home: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("MINIK8S_HOME", None)
    return subprocess.run([sys.executable, "-m", "minik8s.cli.main", "--home", home, *args],
                          capture_output=True, text=True, env=env, timeout=60)


def _namespace(srv, name: str) -> str:
    ns = KINDS["Namespace"].message()
    ns.metadata.name = name
    srv.client().create(ns)
    return name


def test_corpus_is_big_enough():
    assert 10 <= len(_cases()) <= 25


@pytest.mark.parametrize("name,expect,kinds", _cases())
def test_apply_bad_manifest_stores_nothing(cluster, name, expect, kinds):
    srv, home = cluster
    ns = _namespace(srv, "bad-" + re.sub(r"[^a-z0-9]+", "-", name.rsplit(".", 1)[0]))
    r = minictl(home, "apply", "-n", ns, "-f", os.path.join(CORPUS, name))
    assert r.returncode == 1, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert expect in lines[0], lines[0]
    assert r.stdout == ""
    client = srv.client()
    for kind in kinds:
        assert list(client.list(kind, ns)) == [], f"{kind} stored in {ns}"


def test_huge_annotation_is_rejected(cluster, tmp_path):
    """An annotation over the 256 KiB limit of all annotations together (server validation)."""
    srv, home = cluster
    ns = _namespace(srv, "bad-huge-annotation")
    path = tmp_path / "huge.yaml"
    path.write_text("apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  annotations:\n"
                    f"    notes: \"{'x' * 300_000}\"\nspec:\n  containers:\n  - name: c\n    image: busybox\n")
    r = minictl(home, "apply", "-n", ns, "-f", str(path))
    assert r.returncode == 1
    (line,) = r.stderr.strip().splitlines()
    assert "metadata.annotations" in line and "Too long" in line, line[:500]
    assert list(srv.client().list("Pod", ns)) == []
