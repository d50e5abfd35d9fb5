"""The dashboard's back end without a browser (minik8s/dashboard/server.py, feed.py), in process on a
real API server: the page's stream is a snapshot, then each change as the page draws it; a change that
leaves a summary as it was is not sent; every path is 401 without a token the API server accepts, and a
token taken off the server stops opening the dashboard although its feed was open; a read-only token (a
ServiceAccount's, bound to a role that lists pods and nodes) sees what it may list and nothing else.
`minictl dashboard` names a bad port, a missing cluster and a port already taken."""
from __future__ import annotations

import asyncio
import json
import socket

import pytest
from aiohttp.test_utils import TestClient, TestServer

from minik8s.api.codec import from_dict
from minik8s.api.pb import core_pb2
from minik8s.client.aio import AsyncClient
from minik8s.client.home import token_csv, write_token_file
from minik8s.dashboard.server import Feeds, build_app

from cluster import IDENTITIES
from support.minictl import Ctl

POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "default"},
       "spec": {"containers": [{"name": "c", "image": "nginx", "resources": {"requests": {"cpu": "250m"}}}]}}


@pytest.fixture
def srv(module_srv):
    """One API server for the module: each test keeps to its own names and leaves the tokens as it found them."""
    return module_srv


@pytest.fixture
async def dashboard(srv):
    feeds = Feeds(lambda token: AsyncClient(srv.address, token))
    async with TestClient(TestServer(build_app(feeds))) as http:
        yield http
    await feeds.close()


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


async def next_event(stream) -> tuple[str, object]:
    """The next server-sent event's name and data, skipping keep-alive comments."""
    name, data = "", ""
    while True:
        line = (await asyncio.wait_for(stream.readline(), 10)).decode().rstrip("\n")
        if line.startswith("event: "):
            name = line[len("event: "):]
        elif line.startswith("data: "):
            data = line[len("data: "):]
        elif not line and name:
            return name, json.loads(data)


async def next_pods(stream) -> list:
    """The Pod changes of the next batch that has any (the server's own objects may come first)."""
    while True:
        name, data = await next_event(stream)
        assert name == "changes"
        pods = [c for c in data if c["kind"] == "Pod"]
        if pods:
            return pods


async def test_the_stream_is_a_snapshot_then_each_change_as_drawn(srv, admin, dashboard):
    resp = await dashboard.get("/events", headers=bearer(srv.tokens["admin"]))
    assert resp.status == 200 and resp.headers["Content-Type"] == "text/event-stream"
    name, snapshot = await next_event(resp.content)
    assert name == "snapshot" and snapshot["user"] == "admin"
    assert snapshot["objects"]["Pod"] == {} and set(snapshot["objects"]) >= {"Node", "Deployment", "Job", "Event"}

    await admin.create(from_dict(core_pb2.Pod, POD))
    [created] = await next_pods(resp.content)
    pod = created["object"]
    assert pod["name"] == "web" and pod["phase"] == "Pending" and pod["cpu"] == 250 and pod["node"] == ""

    # a label is nothing the page draws: no change goes out for it; the binding that follows is one
    await admin.patch("Pod", "web", {"metadata": {"labels": {"seen": "no"}}}, "default")
    await admin.bind("default", "web", "node-1")
    assert [c["object"]["node"] for c in await next_pods(resp.content)] == ["node-1"]

    await admin.delete("Pod", "web", "default", grace_period=0)
    assert (await next_pods(resp.content))[-1] == {"kind": "Pod", "key": "default/web", "object": None}
    resp.close()


VIEWER = [
    {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "viewer", "namespace": "default"}},
    {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "dashboard-viewer"},
     "rules": [{"apiGroups": [""], "resources": ["pods", "nodes"], "verbs": ["get", "list", "watch"]}]},
    {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "dashboard-viewer"},
     "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "dashboard-viewer"},
     "subjects": [{"kind": "ServiceAccount", "name": "viewer", "namespace": "default"}]},
]


async def test_a_read_only_token_sees_what_it_may_list(srv, dashboard):
    from minik8s.api.kinds import lookup
    async with AsyncClient(srv.address, srv.tokens["admin"]) as admin:
        for obj in VIEWER:
            await admin.create(from_dict(lookup(obj["kind"]).message, obj))
        await admin.create(from_dict(core_pb2.Pod, {**POD, "metadata": {"name": "seen", "namespace": "default"}}))
        await admin.create(from_dict(core_pb2.Namespace, {"apiVersion": "v1", "kind": "Namespace",
                                                          "metadata": {"name": "elsewhere"}}))
        token = (await admin.create_token("default", "viewer")).status.token
    resp = await dashboard.get("/events", headers=bearer(token))
    name, snapshot = await next_event(resp.content)
    assert snapshot["user"] == "system:serviceaccount:default:viewer"
    assert "default/seen" in snapshot["objects"]["Pod"]
    assert snapshot["objects"]["Deployment"] == {}       # not granted: its view stays empty
    resp.close()


@pytest.mark.parametrize("path", ["/", "/events", "/static/app.js", "/api/decision/default/web"])
async def test_every_path_is_401_without_a_token_the_server_accepts(srv, dashboard, path):
    for headers in ({}, bearer("not-a-token")):
        resp = await dashboard.get(path, headers=headers)
        assert resp.status == 401
        assert (await resp.text()).startswith("401: Unauthorized")
    assert (await dashboard.get(f"{path}?token=not-a-token")).status == 401
    assert (await dashboard.get(path, headers=bearer(srv.tokens["admin"]))).status in (200, 404)


async def test_a_token_in_the_address_becomes_a_cookie(srv, dashboard):
    resp = await dashboard.get(f"/?token={srv.tokens['admin']}", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/"
    assert "HttpOnly" in resp.headers["Set-Cookie"] and "SameSite=Strict" in resp.headers["Set-Cookie"]
    resp = await dashboard.get("/")      # the client keeps the cookie
    assert resp.status == 200 and "<title>minik8s dashboard</title>" in await resp.text()


async def test_a_token_taken_off_the_server_stops_opening_the_dashboard(srv, dashboard):
    entries = [(srv.tokens[n], user, n, groups) for n, (user, groups) in IDENTITIES.items()]
    write_token_file(token_csv(srv.home), entries + [("viewer-token", "viewer", "viewer", "")])
    assert (await dashboard.get("/", headers=bearer("viewer-token"))).status == 200

    write_token_file(token_csv(srv.home), entries)
    # the server reads its token file again when an unknown token arrives after the file changed
    assert (await dashboard.get("/", headers=bearer("unknown"))).status == 401
    assert (await dashboard.get("/", headers=bearer("viewer-token"))).status == 401


@pytest.mark.parametrize("host, status", [("attacker.example:80", 403), ("attacker.example", 403),
                                          ("localhost", 200), ("localhost:8080", 200), ("[::1]:8080", 200)])
async def test_only_loopback_host_names_are_answered(srv, dashboard, host, status):
    resp = await dashboard.get("/", headers={**bearer(srv.tokens["admin"]), "Host": host})
    assert resp.status == status


def test_minictl_dashboard_names_what_is_wrong(tmp_path, srv):
    ctl = Ctl(str(tmp_path / "no-cluster"))
    out = ctl("dashboard", "--port", "70000")
    assert out.returncode == 1 and out.stderr == "error: invalid --port 70000: must be between 0 and 65535\n"
    out = ctl("dashboard", "--port", "0", timeout=30)
    assert out.returncode == 1
    assert out.stderr.startswith(f"error: no cluster config at {tmp_path / 'no-cluster' / 'config.yaml'}")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = ctl("--server", srv.address, "--token", srv.tokens["admin"], "dashboard", "--port", str(port), timeout=30)
    assert out.returncode == 1 and out.stderr.startswith("error: ") and str(port) in out.stderr
