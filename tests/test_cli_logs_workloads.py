"""`minictl logs deploy/X` (and rs/, svc/): one of the pods the object selects, picked by kubectl's logging
order (Running, Ready longest, then oldest), named on stderr when there are several; `logs -l --prefix`
every selected pod's lines under `[pod/NAME/CONTAINER]`. Pods run on a real kubelet (process runtime)."""
from __future__ import annotations

import asyncio

import pytest

from minik8s.api.codec import from_dict
from minik8s.api.kinds import KINDS
from minik8s.cli.main import main
from minik8s.client.config import ClientConfig

from support import wait_for
from test_kubelet_harness import kubelet, phase_is, pod, sh, wait_pod


@pytest.fixture
def ctl(srv, capsys):
    ClientConfig(server=srv.address, token=srv.tokens["admin"]).save(srv.home)

    def run(*args: str) -> tuple[int, str, str]:
        rc = main(["--home", srv.home, *args])
        out, err = capsys.readouterr()
        return rc, out, err
    return run


DEPLOYMENT = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "lg", "namespace": "default"},
              "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "lg"}},
                       "template": {"metadata": {"labels": {"app": "lg"}},
                                    "spec": {"containers": [{"name": "app", "image": "busybox"}]}}}}


async def test_logs_of_a_deployment_show_one_pod_and_of_a_selector_every_pod(srv, admin, ctl, tmp_path):
    async with kubelet(srv, str(tmp_path), runtime="process"):
        await admin.create(from_dict(KINDS["Deployment"].message, DEPLOYMENT))
        for name in ("lg-a", "lg-b"):
            await admin.create(pod(name, [sh("app", f"echo I am {name}; sleep 60")], labels={"app": "lg"}))
        for name in ("lg-a", "lg-b"):
            await wait_pod(admin, name, phase_is("Running"))
        chosen = {}

        async def one_pod():     # on a thread: the kubelet answering the tunnel runs in this loop
            rc, out, err = await asyncio.to_thread(ctl, "logs", "deploy/lg")
            if rc != 0 or not err.startswith("Found 2 pods, using pod/lg-"):
                return False
            chosen["name"] = err.split("pod/")[1].strip()
            return out == f"I am {chosen['name']}\n"
        await wait_for(one_pod, what="one pod's log for deploy/lg")
        rc, out, err = await asyncio.to_thread(ctl, "logs", "deployment/lg")
        assert (rc, out) == (0, f"I am {chosen['name']}\n")       # the same pod each time

        rc, out, err = await asyncio.to_thread(ctl, "logs", "-l", "app=lg", "--prefix")
        assert rc == 0 and sorted(out.splitlines()) == ["[pod/lg-a/app] I am lg-a", "[pod/lg-b/app] I am lg-b"]

        rc, out, err = await asyncio.to_thread(ctl, "logs", "rs/ghost")
        assert (rc, out) == (1, "") and 'replicasets.apps "ghost" not found' in err
        rc, out, err = await asyncio.to_thread(ctl, "logs", "configmap/x")
        assert (rc, out) == (1, "") and "cannot get the logs of a ConfigMap" in err
