"""`minictl scale`, `rollout status|history|undo|restart|pause|resume`, `set image|env` and
`delete --cascade` against a real API server, with the controllers and a fake kubelet running in a
background event loop, and minictl's main() called in-process (its output captured)."""
from __future__ import annotations

import asyncio
import contextlib
import io
import threading

import pytest

from minik8s.api import workloads
from minik8s.api.clock import FakeClock
from minik8s.api.pb import apps_pb2
from minik8s.api.workloads import controller_ref
from minik8s.cli.main import main as minictl
from support import FakeKubelet, running_manager, wait_for_sync

NS = "default"


class Background:
    """The controller manager and a fake kubelet on an event loop of their own thread."""

    def __init__(self, srv, clock=None, ready=None):
        self.srv, self.clock, self.ready = srv, clock, ready
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def call(self, coro, timeout=60):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def __enter__(self):
        self.thread.start()

        async def start():
            self.admin = self.srv.async_client()
            self.cm = self.srv.async_client("controller-manager")
            self.manager = running_manager(self.cm, "replicaset,deployment,garbagecollector", self.clock)
            await self.manager.__aenter__()
            self.kubelet = await FakeKubelet(self.admin, self.clock, ready=self.ready).start()
        self.call(start())
        return self

    def advance(self, seconds: float) -> None:
        self.loop.call_soon_threadsafe(self.clock.advance, seconds)

    def __exit__(self, *exc):
        async def stop():
            await self.kubelet.stop()
            await self.manager.__aexit__(None, None, None)
            await self.admin.close()
            await self.cm.close()
        try:
            self.call(stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.loop.close()


class Result:
    def __init__(self, code, out, err):
        self.code, self.out, self.err = code, out, err

    @property
    def lines(self):
        return self.out.splitlines()


def ctl(srv, *args) -> Result:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = minictl(["--server", srv.address, "--token", srv.tokens["admin"], *args])
    return Result(code, out.getvalue(), err.getvalue())


def ok(srv, *args) -> str:
    r = ctl(srv, *args)
    assert r.code == 0, f"minictl {' '.join(args)}: {r.err}"
    return r.out


def deployment(name: str, replicas: int, image: str = "nginx:1.24", **spec) -> apps_pb2.Deployment:
    d = apps_pb2.Deployment()
    d.metadata.name, d.metadata.namespace = name, NS
    d.spec.replicas = replicas
    d.spec.selector.matchLabels["app"] = name
    d.spec.template.metadata.labels["app"] = name
    c = d.spec.template.spec.containers.add()
    c.name, c.image = "web", image
    for k, v in spec.items():
        setattr(d.spec, k, v)
    return d


def wait_complete(srv, name="web", timeout="60s") -> str:
    return ok(srv, "rollout", "status", f"deployment/{name}", f"--timeout={timeout}")


def images(client, name="web") -> set[str]:
    return {p.spec.containers[0].image for p in client.list("Pod", NS, label_selector=f"app={name}").items
            if not p.metadata.deletionTimestamp}


def test_set_image_rollout_status_history_and_undo(srv, client):
    with Background(srv):
        client.create(deployment("web", 3))
        out = wait_complete(srv)
        assert out.splitlines()[-1] == 'deployment "web" successfully rolled out'

        assert ok(srv, "set", "image", "deployment/web", "web=nginx:1.25") == "deployment.apps/web image updated\n"
        assert ok(srv, "set", "image", "deployment/web", "web=nginx:1.25") == ""        # no change, no output
        r = ctl(srv, "set", "image", "deployment/web", "nope=nginx:2")
        assert r.code == 1 and r.err == 'error: unable to find container named "nope"\n'
        out = wait_complete(srv)
        assert out.splitlines()[-1] == 'deployment "web" successfully rolled out'
        for line in out.splitlines()[:-1]:
            assert line.startswith('Waiting for deployment "web" rollout to finish: ') or \
                line == "Waiting for deployment spec update to be observed..."
        assert images(client) == {"nginx:1.25"}

        ok(srv, "set", "image", "deployment/web", "web=nginx:1.26")
        # as kubectl's docs do it: the cause is annotated after the change, and lands on the new revision
        ok(srv, "annotate", "deployment/web", "kubernetes.io/change-cause=bump to 1.26")
        wait_complete(srv)
        assert ok(srv, "rollout", "history", "deployment/web") == (
            "deployment.apps/web \n"
            "REVISION  CHANGE-CAUSE\n"
            "1         <none>\n"
            "2         <none>\n"
            "3         bump to 1.26\n\n")
        detail = ok(srv, "rollout", "history", "deployment/web", "--revision=2").splitlines()
        assert detail[0] == "deployment.apps/web with revision #2"
        assert detail[1] == "Pod Template:"
        assert any(line.split() == ["Image:", "nginx:1.25"] for line in detail)
        r = ctl(srv, "rollout", "history", "deployment/web", "--revision=7")
        assert r.code == 1 and r.err == "error: unable to find the specified revision\n"

        assert ok(srv, "rollout", "undo", "deployment/web") == "deployment.apps/web rolled back\n"
        wait_complete(srv)
        assert images(client) == {"nginx:1.25"}
        d = client.get("Deployment", "web", NS)
        assert workloads.revision(d) == 4
        assert ok(srv, "rollout", "history", "deployment/web").splitlines()[2:-1] == [
            "1         <none>", "3         bump to 1.26", "4         <none>"]

        assert ok(srv, "rollout", "undo", "deployment/web", "--to-revision=1") == "deployment.apps/web rolled back\n"
        wait_complete(srv)
        assert images(client) == {"nginx:1.24"} and workloads.revision(client.get("Deployment", "web", NS)) == 5
        assert ok(srv, "rollout", "undo", "deployment/web", "--to-revision=5") == \
            "deployment.apps/web skipped rollback (current template already matches revision 5)\n"
        r = ctl(srv, "rollout", "undo", "deployment/web", "--to-revision=9")
        assert r.code == 1 and r.err == "error: unable to find specified revision 9 in history\n"


def test_rollout_status_fails_when_the_progress_deadline_passes(srv, client):
    clock = FakeClock()
    with Background(srv, clock, ready=lambda p: p.spec.containers[0].image != "broken:1") as bg:
        client.create(deployment("web", 2, progressDeadlineSeconds=30))
        wait_complete(srv)
        ok(srv, "set", "image", "deployment/web", "web=broken:1")
        r = ctl(srv, "rollout", "status", "deployment/web", "--timeout=0.3s")
        assert r.code == 1 and r.err.endswith("error: timed out waiting for the condition\n")

        result = {}

        def status():
            result["r"] = ctl(srv, "rollout", "status", "deployment/web")
        t = threading.Thread(target=status)
        t.start()
        while t.is_alive():
            bg.advance(5)             # the clock runs out while `rollout status` watches
            t.join(0.05)
        r = result["r"]
        assert r.code == 1 and r.err == 'error: deployment "web" exceeded its progress deadline\n'
        assert r.out.startswith('Waiting for deployment "web" rollout to finish: ')
        cond = workloads.get_condition(client.get("Deployment", "web", NS).status, workloads.PROGRESSING)
        assert (cond.status, cond.reason) == ("False", "ProgressDeadlineExceeded")


def test_pause_resume_restart_and_scale(srv, client):
    with Background(srv):
        client.create(deployment("web", 2))
        wait_complete(srv)
        assert ok(srv, "rollout", "pause", "deployment/web") == "deployment.apps/web paused\n"
        r = ctl(srv, "rollout", "pause", "deployment/web")
        assert r.code == 1 and r.err == 'error: deployments.apps "web" is already paused\n'
        r = ctl(srv, "rollout", "restart", "deployment/web")
        assert r.code == 1 and r.err == \
            'error: deployments.apps "web" can\'t restart paused deployment (run rollout resume first)\n'
        r = ctl(srv, "rollout", "undo", "deployment/web")
        assert r.code == 1 and "you cannot rollback a paused deployment" in r.err
        ok(srv, "set", "image", "deployment/web", "web=nginx:1.25")
        assert ok(srv, "scale", "deployment/web", "--replicas=4") == "deployment.apps/web scaled\n"
        # paused: `rollout status` would wait for the new template; the scale happens all the same

        def scaled():
            d = client.get("Deployment", "web", NS)
            return d.status.observedGeneration == d.metadata.generation and d.status.availableReplicas == 4
        wait_for_sync(scaled, what="4 available replicas of the paused deployment")
        r = ctl(srv, "rollout", "status", "deployment/web", "--watch=false")
        assert r.code == 0 and r.out == \
            'Waiting for deployment "web" rollout to finish: 0 out of 4 new replicas have been updated...\n'
        assert images(client) == {"nginx:1.24"} and len(client.list("Pod", NS).items) == 4   # scaled, not rolled

        assert ok(srv, "rollout", "resume", "deployment/web") == "deployment.apps/web resumed\n"
        r = ctl(srv, "rollout", "resume", "deployment/web")
        assert r.code == 1 and r.err == 'error: deployments.apps "web" is not paused\n'
        wait_complete(srv)
        assert images(client) == {"nginx:1.25"}

        assert ok(srv, "rollout", "restart", "deployment/web") == "deployment.apps/web restarted\n"
        wait_complete(srv)
        d = client.get("Deployment", "web", NS)
        assert workloads.RESTARTED_AT_ANNOTATION in d.spec.template.metadata.annotations and workloads.revision(d) == 3

        r = ctl(srv, "scale", "deployment", "web", "--replicas=1", "--current-replicas=3")
        assert r.code == 1 and r.err == "error: Expected replicas to be 3, was 4\n"
        assert ok(srv, "scale", "deployment", "web", "--replicas=1", "--current-replicas=4") == \
            "deployment.apps/web scaled\n"
        r = ctl(srv, "scale", "deployment/web")
        assert r.code == 1 and r.err == 'error: required flag(s) "replicas" not set\n'


def test_set_env(srv, client):
    client.create(deployment("web", 1))
    assert ok(srv, "set", "env", "deployment/web", "FOO=bar", "MODE=fast") == "deployment.apps/web env updated\n"
    assert ok(srv, "set", "env", "deployment/web", "--list") == \
        "# deployments/web, container web\nFOO=bar\nMODE=fast\n"
    assert ok(srv, "set", "env", "deployment/web", "FOO-", "-e", "MODE=slow") == "deployment.apps/web env updated\n"
    env = client.get("Deployment", "web", NS).spec.template.spec.containers[0].env
    assert [(e.name, e.value) for e in env] == [("MODE", "slow")]
    r = ctl(srv, "set", "env", "-c", "sidecar", "deployment/web", "X=1")
    assert r.code == 1 and r.err == "error: unable to find container named sidecar\n"


@pytest.mark.parametrize("cascade", ["background", "orphan", "foreground"])
def test_delete_cascade(srv, client, cascade):
    with Background(srv):
        d = client.create(deployment("web", 2))
        wait_complete(srv)
        pods = {p.metadata.name for p in client.list("Pod", NS).items}
        assert ok(srv, "delete", "deployment", "web", f"--cascade={cascade}") == 'deployment.apps "web" deleted\n'

        def settled():
            if client.list("Deployment", NS).items:
                return False
            rss = client.list("ReplicaSet", NS).items
            live = {p.metadata.name for p in client.list("Pod", NS).items}
            if cascade == "orphan":
                return len(rss) == 1 and not any(r.uid == d.metadata.uid for r in rss[0].metadata.ownerReferences) \
                    and live == pods
            return not rss and not live
        wait_for_sync(settled, what=f"deployment deleted with --cascade={cascade}")
        if cascade == "orphan":
            rs = client.list("ReplicaSet", NS).items[0]
            assert all(controller_ref(p).uid == rs.metadata.uid for p in client.list("Pod", NS).items)
