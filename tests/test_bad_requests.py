"""Requests an attacker or a careless client sends get a 4xx with a short message, never an UNKNOWN or
a 500, and the server keeps answering: undecodable bytes, a patch nested thousands deep, a grace period
of 2^63 s, a label value of 20 KB, a watch from a resourceVersion the server has not reached; a full
disk reports itself as such."""
from __future__ import annotations

import json
import sqlite3

import aiohttp
import grpc
import pytest

from apiserver.storage import SQLiteStorage, StoredChange
from minik8s.api.errors import BadRequest, Invalid, Timeout
from minik8s.api.pb import api_pb2, core_pb2
from minik8s.client.transport import from_rpc_error
from rest_support import rest_url, ssl_context

NS = "default"


def pod(name: str, node: str = ""):
    p = core_pb2.Pod()
    p.metadata.name, p.metadata.namespace = name, NS
    c = p.spec.containers.add()
    c.name, c.image = "app", "busybox"
    if node:
        p.spec.nodeName = node
    return p


def raw_call(srv, method: str, body: bytes):
    """Sends `body` as the request bytes of `method`; the typed error it gets back."""
    with grpc.insecure_channel(srv.address) as ch:
        call = ch.unary_unary(f"/minik8s.api.API/{method}", request_serializer=lambda b: b,
                              response_deserializer=lambda b: b)
        try:
            call(body, metadata=(("authorization", f"Bearer {srv.tokens['admin']}"),), timeout=10)
        except grpc.RpcError as e:
            return e.code(), from_rpc_error(e)
    return grpc.StatusCode.OK, None


@pytest.mark.parametrize("method", ["Create", "Get", "Patch", "Delete", "List"])
def test_undecodable_request_bytes_are_invalid_argument(srv, method):
    code, err = raw_call(srv, method, b"\xff\xfe\x00garbage\x12\x99")
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert isinstance(err, BadRequest) and "cannot decode the request: malformed minik8s.api." in err.message
    assert srv.client().version().user == "admin"


def deep(levels: int) -> bytes:
    return b'{"metadata": {"labels": ' + b'{"a": ' * levels + b"1" + b"}" * levels + b"}}"


def test_a_patch_nested_ten_thousand_deep_is_a_bad_request(client):
    client.create(pod("p"))
    req = api_pb2.PatchRequest(kind="Pod", namespace=NS, name="p", patchType="merge", patch=deep(10_000))
    code, err = raw_call_srv(client, req)
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "nested too deeply" in err.message
    assert client.get("pods", "p", NS).metadata.labels == {}


def raw_call_srv(client, req):
    try:
        client._stubs["Patch"](req, metadata=client._md, timeout=10)
    except grpc.RpcError as e:
        return e.code(), from_rpc_error(e)
    return grpc.StatusCode.OK, None


async def test_rest_bodies_nested_ten_thousand_deep_are_400(srv):
    url = rest_url(srv) + "/api/v1/namespaces/default/pods"
    headers = {"Authorization": f"Bearer {srv.tokens['admin']}"}
    yaml_deep = b"metadata:\n  labels: " + b"[" * 10_000 + b"]" * 10_000 + b"\n"
    async with aiohttp.ClientSession(headers=headers) as http:
        for body, ctype in ((deep(10_000), "application/json"), (yaml_deep, "application/yaml")):
            async with http.post(url, data=body, headers={"Content-Type": ctype}, ssl=ssl_context(srv)) as r:
                assert r.status == 400, await r.text()
                status = await r.json()
                assert status["reason"] == "BadRequest" and "nested too deeply" in status["message"]


def test_a_grace_period_of_two_to_the_63_still_deletes_gracefully(client):
    client.create(pod("slow", node="node-1"))
    gone = client.delete("pods", "slow", NS, grace_period=2**63 - 1)
    assert gone.metadata.deletionTimestamp
    assert gone.metadata.deletionGracePeriodSeconds == 2**31 - 1
    # its kubelet (here the admin, as one would) finishes it with grace 0: it goes
    client.delete("pods", "slow", NS, grace_period=0)
    assert [p.metadata.name for p in client.list("pods", NS).items] == []


def test_a_20_kb_label_value_is_refused_naming_the_key_and_limit_not_the_value(client):
    p = pod("big")
    p.metadata.labels["team"] = "v" * 20_000
    with pytest.raises(Invalid) as e:
        client.create(p)
    msg = e.value.message
    assert "metadata.labels" in msg and "must be no more than 63 characters" in msg
    assert "(20000 characters)" in msg and len(msg) < 2_000
    with pytest.raises(Exception):
        client.get("pods", "big", NS)


def test_a_watch_from_a_future_resource_version_is_too_large(client):
    current = int(client.list("pods", NS).resource_version)
    with pytest.raises(Timeout) as e:
        next(iter(client.watch("pods", NS, resource_version=str(current + 1_000_000))))
    # the server's own writes (its bootstrap, its endpoints reconciler) may have moved it on since the list
    prefix = f"Too large resource version: {current + 1_000_000}, current: "
    assert e.value.message.startswith(prefix) and int(e.value.message[len(prefix):]) >= current


async def test_rest_watch_from_a_future_resource_version_is_504(srv):
    url = rest_url(srv) + "/api/v1/namespaces/default/pods?watch=1&resourceVersion=99999999"
    headers = {"Authorization": f"Bearer {srv.tokens['admin']}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.get(url, ssl=ssl_context(srv)) as r:
            line = await r.content.readline()
    event = json.loads(line)
    assert event["type"] == "ERROR"
    assert event["object"]["code"] == 504 and event["object"]["reason"] == "Timeout"
    assert event["object"]["message"].startswith("Too large resource version: 99999999, current: ")


def test_a_full_disk_is_reported_as_such(tmp_path):
    store = SQLiteStorage(str(tmp_path / "state.db"))
    store.commit([StoredChange(1, "ADDED", "Pod", NS, "a", b"x")])
    pages = store._db.execute("PRAGMA page_count").fetchone()[0]
    store._db.execute(f"PRAGMA max_page_count = {pages}")      # the disk is full from here on
    with pytest.raises(sqlite3.OperationalError, match="database or disk is full"):
        store.commit([StoredChange(2, "ADDED", "Pod", NS, f"b{i}", b"y" * 4096) for i in range(64)])
    assert [name for _, _, name, _, _ in store.load_objects()] == ["a"]      # nothing half-written
    store.close()
