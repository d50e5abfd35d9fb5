"""minictl's everyday verbs beside the real kubectl on one `minictl up` cluster (one fake node): the same
objects from `create ... --dry-run=client -o yaml` and `expose`, the same `explain` pages, the same
changed lines from `diff` and the same exit codes. kubectl prints empty fields (`creationTimestamp:
null`, `status: {}`) that minictl's protobuf objects omit; those are dropped before comparing."""
from __future__ import annotations

import re

import pytest
import yaml

from test_kubectl import KUBECTL, Cluster, _free_port  # noqa: F401  (skips the module without kubectl)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = Cluster(str(tmp_path_factory.mktemp("verbs") / "home"))
    up = c.minictl("up", "--runtime", "fake", "--nodes", "1", "--port", str(_free_port()))
    assert up.returncode == 0, up.stderr
    yield c
    c.minictl("down")


def ok(result) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def pruned(value):
    """The document without the empty values kubectl prints and minictl omits."""
    if isinstance(value, dict):
        out = {k: pruned(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [pruned(v) for v in value]
    return value


GENERATED = [
    ("create", "deployment", "web", "--image=nginx:1.25", "--replicas=2", "--port=80", "--", "sleep", "10"),
    ("create", "deployment", "two", "--image=nginx", "--image=registry.local/team/side_car:1"),
    ("create", "service", "nodeport", "web", "--tcp=80:8080", "--tcp=443"),
    ("create", "service", "clusterip", "web", "--tcp=5678:8080"),
    ("create", "job", "once", "--image=busybox", "--", "echo", "hi"),
    ("create", "namespace", "team-a"),
    ("create", "configmap", "cfg", "--from-literal=a=1", "--from-literal=b=x=y"),
]


def with_flags(argv: tuple, *flags: str) -> list[str]:
    """argv with flags before its `-- COMMAND`, if any."""
    cut = argv.index("--") if "--" in argv else len(argv)
    return [*argv[:cut], *flags, *argv[cut:]]


@pytest.mark.parametrize("argv", GENERATED, ids=lambda a: "-".join(a[1:3]))
async def test_create_dry_run_objects_match_kubectls(cluster, argv):
    argv = with_flags(argv, "--dry-run=client", "-o", "yaml")
    mine = ok(cluster.minictl(*argv))
    theirs = cluster.kubectl(*argv).stdout
    # a name made from an image with `_` gets a random suffix, from both
    suffix = re.compile(r"(side-car)-[bcdfghjklmnpqrstvwxz2456789]{5}")
    assert pruned(yaml.safe_load(suffix.sub(r"\1", mine))) == pruned(yaml.safe_load(suffix.sub(r"\1", theirs)))


async def test_expose_and_explain_match_kubectls(cluster):
    ok(cluster.minictl("create", "deployment", "api", "--image=nginx", "--port=80"))
    for extra in ([], ["--port=8080", "--target-port=80"], ["--port=80,443", "--type=NodePort"]):
        mine = yaml.safe_load(ok(cluster.minictl("expose", "deployment", "api", *extra, "--dry-run=client",
                                                 "-o", "yaml")))
        theirs = yaml.safe_load(cluster.kubectl("expose", "deployment", "api", *extra, "--dry-run=client",
                                                "-o", "yaml").stdout)
        assert pruned(mine) == pruned(theirs)
    for path in ("deployment", "pods", "deployment.spec.template.spec.containers.ports", "pod.metadata.labels",
                 "deployment.spec.replicas", "node"):
        assert ok(cluster.minictl("explain", path)) == cluster.kubectl("explain", path).stdout
    rec = ["deployment.spec.template.spec.containers.resources", "--recursive"]
    assert ok(cluster.minictl("explain", *rec)) == cluster.kubectl("explain", *rec).stdout
    # the served OpenAPI marks int-or-string without a type name, which kubectl shows as <Object>;
    # minictl names it as kubectl does against upstream
    mine = ok(cluster.minictl("explain", "svc.spec.ports.targetPort"))
    assert mine == cluster.kubectl("explain", "svc.spec.ports.targetPort").stdout.replace("<Object>", "<IntOrString>")
    bad = cluster.kubectl("explain", "pods.spec.bogus", check=False)
    mine = cluster.minictl("explain", "pods.spec.bogus")
    assert (mine.returncode, mine.stderr) == (bad.returncode, bad.stderr) == (1, 'error: field "bogus" does not exist\n')


async def test_diff_shows_the_same_changes_as_kubectl(cluster):
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: settings}}\ndata: {{mode: {}}}\n"
    cluster.kubectl("apply", "-f", "-", input=cm.format("fast"))
    for text, code in ((cm.format("fast"), 0), (cm.format("slow"), 1)):
        path = f"{cluster.home}/settings.yaml"
        with open(path, "w") as f:
            f.write(text)
        mine = cluster.minictl("diff", "-f", path)
        theirs = cluster.kubectl("diff", "-f", path, check=False)
        assert mine.returncode == theirs.returncode == code, (mine.stderr, theirs.stderr)

        def changed(out: str) -> list[str]:
            return [line for line in out.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")]
        assert changed(mine.stdout) == changed(theirs.stdout)
