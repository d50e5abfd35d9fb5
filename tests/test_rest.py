"""The REST API over HTTP: CRUD with upstream URLs, selectors and limit/continue, every patch type,
watch (resume, bookmarks, 410 Expired), scale, and upstream Status errors for bad input."""
from __future__ import annotations

import json

import aiohttp
import pytest

from rest_support import rest_url, ssl_context

POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "labels": {"app": "web"}},
       "spec": {"containers": [{"name": "c", "image": "nginx", "env": [{"name": "A", "value": "1"}]}]}}
DEPLOY = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
          "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "d"}},
                   "template": {"metadata": {"labels": {"app": "d"}},
                                "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}
PODS = "/api/v1/namespaces/default/pods"


@pytest.fixture
async def http(srv):
    headers = {"Authorization": f"Bearer {srv.tokens['admin']}"}
    async with aiohttp.ClientSession(rest_url(srv), headers=headers,
                                     connector=aiohttp.TCPConnector(ssl=ssl_context(srv))) as s:
        yield s


async def call(http, method, path, body=None, ct="application/json", **kw):
    data = body if isinstance(body, (bytes, str)) or body is None else json.dumps(body)
    async with http.request(method, path, data=data, headers={"Content-Type": ct}, **kw) as r:
        return r.status, await r.json(content_type=None)


async def test_crud_with_upstream_urls_and_status_errors(http):
    assert (await call(http, "POST", PODS, POD))[0] == 201
    status, body = await call(http, "POST", PODS, POD)
    assert (status, body["reason"], body["kind"]) == (409, "AlreadyExists", "Status")
    status, pod = await call(http, "GET", f"{PODS}/web")
    assert status == 200 and pod["spec"]["containers"][0]["image"] == "nginx"
    pod["metadata"]["labels"]["tier"] = "x"
    assert (await call(http, "PUT", f"{PODS}/web", pod))[0] == 200
    status, body = await call(http, "PUT", f"{PODS}/web", pod)         # stale resourceVersion
    assert (status, body["reason"]) == (409, "Conflict")
    status, body = await call(http, "GET", f"{PODS}/nope")
    assert (status, body["message"]) == (404, 'pods "nope" not found')
    assert (await call(http, "DELETE", f"{PODS}/web"))[0] == 200


async def test_list_selectors_limit_continue(http):
    for i in range(5):
        pod = json.loads(json.dumps(POD))
        pod["metadata"].update(name=f"p{i}", labels={"app": "even" if i % 2 == 0 else "odd"})
        await call(http, "POST", PODS, pod)
    status, body = await call(http, "GET", PODS, params={"labelSelector": "app=even"})
    assert [p["metadata"]["name"] for p in body["items"]] == ["p0", "p2", "p4"]
    names, cont = [], ""
    while True:
        _, page = await call(http, "GET", PODS, params={"limit": "2", **({"continue": cont} if cont else {})})
        names += [p["metadata"]["name"] for p in page["items"]]
        cont = page["metadata"].get("continue")
        if not cont:
            break
    assert names == ["p0", "p1", "p2", "p3", "p4"]
    _, body = await call(http, "GET", PODS, params={"fieldSelector": "metadata.name=p3"})
    assert [p["metadata"]["name"] for p in body["items"]] == ["p3"]


TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


async def test_tables_carry_each_kinds_columns_with_wide_ones_at_priority_1(http):
    await call(http, "POST", PODS, POD)
    async with http.get(PODS, headers={"Accept": TABLE}) as r:
        table = await r.json()
    columns = [(c["name"], c["priority"]) for c in table["columnDefinitions"]]
    assert columns == [("Name", 0), ("Ready", 0), ("Status", 0), ("Restarts", 0), ("Age", 0), ("IP", 1),
                       ("Node", 1), ("Nominated Node", 1), ("Readiness Gates", 1)]
    (row,) = table["rows"]
    assert row["cells"][:4] == ["web", "0/1", "Pending", "0"] and row["cells"][5:] == ["<none>"] * 4
    assert row["object"]["kind"] == "PartialObjectMetadata" and row["object"]["metadata"]["name"] == "web"
    async with http.get(f"{PODS}/web", params={"includeObject": "Object"}, headers={"Accept": TABLE}) as r:
        one = await r.json()
    assert one["rows"][0]["object"]["spec"]["containers"][0]["image"] == "nginx"
    _, lst = await call(http, "GET", PODS)
    async with http.get(PODS, params={"watch": "1", "resourceVersion": lst["metadata"]["resourceVersion"]},
                        headers={"Accept": TABLE}) as r:
        await call(http, "PATCH", f"{PODS}/web", {"metadata": {"labels": {"x": "y"}}}, "application/merge-patch+json")
        await call(http, "DELETE", f"{PODS}/web")
        first, second = await _events(r, 2)
    assert len(first["object"]["columnDefinitions"]) == 9 and second["object"]["columnDefinitions"] == []
    assert second["object"]["rows"][0]["cells"][0] == "web"


async def test_patch_types(http):
    await call(http, "POST", PODS, POD)
    _, pod = await call(http, "PATCH", f"{PODS}/web", {"metadata": {"labels": {"m": "1"}}},
                        "application/merge-patch+json")
    assert pod["metadata"]["labels"] == {"app": "web", "m": "1"}
    _, pod = await call(http, "PATCH", f"{PODS}/web", [{"op": "add", "path": "/metadata/labels/j", "value": "2"}],
                        "application/json-patch+json")
    assert pod["metadata"]["labels"]["j"] == "2"
    deploys = "/apis/apps/v1/namespaces/default/deployments"
    dep = json.loads(json.dumps(DEPLOY))
    dep["metadata"]["name"] = "smp"
    dep["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "A", "value": "1"}]
    await call(http, "POST", deploys, dep)
    smp = {"spec": {"template": {"spec": {"containers": [{"name": "c", "env": [{"name": "B", "value": "2"}]}]}}}}
    status, d = await call(http, "PATCH", f"{deploys}/smp", smp, "application/strategic-merge-patch+json")
    c = d["spec"]["template"]["spec"]["containers"][0]
    assert c["image"] == "nginx" and c["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
    status, body = await call(http, "PATCH", f"{PODS}/web", "{}", "text/plain")
    assert (status, body["reason"]) == (415, "UnsupportedMediaType")
    applied = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  replicas: 2\n" \
              "  selector: {matchLabels: {app: d}}\n  template:\n    metadata: {labels: {app: d}}\n" \
              "    spec: {containers: [{name: c, image: nginx}]}\n"
    url = "/apis/apps/v1/namespaces/default/deployments/d"
    status, d = await call(http, "PATCH", url, applied, "application/apply-patch+yaml", params={"fieldManager": "t"})
    assert status == 201 and d["spec"]["replicas"] == 2
    status, d = await call(http, "PATCH", url, applied.replace("replicas: 2", "replicas: 4"),
                           "application/apply-patch+yaml", params={"fieldManager": "t"})
    assert status == 200 and d["spec"]["replicas"] == 4
    status, scale = await call(http, "PATCH", f"{url}/scale", {"spec": {"replicas": 5}},
                               "application/merge-patch+json")
    assert (status, scale["kind"], scale["spec"]["replicas"], scale["status"]["selector"]) == (200, "Scale", 5, "app=d")


async def test_dry_run_stores_nothing(http):
    status, _ = await call(http, "POST", PODS, POD, params={"dryRun": "All"})
    assert status == 201
    assert (await call(http, "GET", f"{PODS}/web"))[0] == 404


async def _events(resp, n):
    out = []
    async for line in resp.content:
        out.append(json.loads(line))
        if len(out) == n:
            return out
    return out


async def test_watch_resumes_and_sends_expired_as_410(http, admin):
    _, lst = await call(http, "GET", PODS)
    rv = lst["metadata"]["resourceVersion"]
    await call(http, "POST", PODS, POD)
    async with http.get(PODS, params={"watch": "1", "resourceVersion": rv}) as r:
        assert r.status == 200
        await call(http, "PATCH", f"{PODS}/web", {"metadata": {"labels": {"x": "y"}}}, "application/merge-patch+json")
        evs = await _events(r, 2)
    assert [e["type"] for e in evs] == ["ADDED", "MODIFIED"]
    assert evs[1]["object"]["metadata"]["labels"]["x"] == "y"


@pytest.mark.apiserver_args("--watch-window", "2", "--bookmark-interval", "0.2")
async def test_watch_expired_and_bookmarks(http):
    for i in range(4):
        pod = json.loads(json.dumps(POD))
        pod["metadata"]["name"] = f"w{i}"
        await call(http, "POST", PODS, pod)
    async with http.get(PODS, params={"watch": "1", "resourceVersion": "1"}) as r:
        ev = (await _events(r, 1))[0]
    assert ev["type"] == "ERROR" and ev["object"]["code"] == 410 and ev["object"]["reason"] == "Expired"
    _, lst = await call(http, "GET", PODS)
    async with http.get(PODS, params={"watch": "1", "allowWatchBookmarks": "true",
                                      "resourceVersion": lst["metadata"]["resourceVersion"]}) as r:
        ev = (await _events(r, 1))[0]
    assert ev["type"] == "BOOKMARK" and ev["object"]["metadata"]["resourceVersion"] == lst["metadata"]["resourceVersion"]


@pytest.mark.parametrize("method,path,body,ct,code", [
    ("POST", PODS, "{not json", "application/json", 400),
    ("POST", PODS, "a: [", "application/yaml", 400),
    ("POST", PODS, "x", "application/xml", 415),
    ("POST", PODS, '{"\\ud800\\udc00": null}', "application/yaml", 400),   # unpaired surrogates
    ("POST", PODS, '{"metadata": {"name": "\\ud800"}}', "application/json", 400),
    ("POST", PODS, '{"metadata": {"name": "\\ud800"}}'.encode("utf-16"), "application/json", 400),
    ("POST", PODS, {**POD, "spec": {"containerz": []}}, "application/json", 400),
    ("POST", PODS, {**POD, "spec": {"containers": [{"name": "BAD_NAME", "image": "x"}]}}, "application/json", 422),
    ("POST", PODS, "x" * (4 * 1024 * 1024), "application/json", 413),
    ("GET", "/api/v1/namespaces/default/widgets?watch=1", None, "application/json", 404),
    ("GET", "/nowhere/at/all", None, "application/json", 404),
    ("GET", PODS + "?watch=1&resourceVersion=abc", None, "application/json", 400),
    ("PUT", PODS + "/web", {**POD, "metadata": {"name": "web", "resourceVersion": "999999"}}, "application/json", 404),
])
async def test_bad_input_gets_an_upstream_status(http, method, path, body, ct, code):
    status, out = await call(http, method, path, body, ct)
    assert status == code and out["kind"] == "Status" and out["code"] == code
    assert (await call(http, "GET", "/api/v1"))[0] == 200            # still serving


async def test_authentication_and_authorization(srv, http):
    async with aiohttp.ClientSession(rest_url(srv), connector=aiohttp.TCPConnector(ssl=ssl_context(srv))) as anon:
        async with anon.get(PODS) as r:
            assert r.status == 401 and (await r.json())["reason"] == "Unauthorized"
        async with anon.get("/version") as r:
            assert r.status == 200 and (await r.json())["major"] == "1"
        headers = {"Authorization": f"Bearer {srv.tokens['node-1']}", "Content-Type": "application/json"}
        async with anon.post(PODS, data=json.dumps(POD), headers=headers) as r:
            assert r.status == 403 and (await r.json())["reason"] == "Forbidden"


async def test_discovery_lists_kinds_with_verbs_and_short_names(http):
    _, core = await call(http, "GET", "/api/v1")
    pods = next(r for r in core["resources"] if r["name"] == "pods")
    assert pods["shortNames"] == ["po"] and "watch" in pods["verbs"] and "all" in pods["categories"]
    _, groups = await call(http, "GET", "/apis")
    assert "apps" in [g["name"] for g in groups["groups"]]
    _, root = await call(http, "GET", "/openapi/v3")
    assert "apis/apps/v1" in root["paths"]
