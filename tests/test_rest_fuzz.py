"""Fuzzing the REST front end: random bodies, content types, paths and query strings. Every answer is
an upstream Status with a code the API uses (or a success), and the server keeps serving."""
from __future__ import annotations

import json
import os
import ssl
import urllib.error
import urllib.parse
import urllib.request

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rest_support import rest_ca, rest_url

CODES = {200, 201, 400, 401, 403, 404, 405, 409, 410, 413, 415, 422}
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20)
paths = st.sampled_from(["/api/v1/namespaces/default/pods", "/api/v1/namespaces/default/pods/x",
                         "/apis/apps/v1/namespaces/default/deployments", "/api/v1/nodes", "/api/v1/nodes/x/status",
                         "/apis/apps/v1/namespaces/default/deployments/x/scale", "/api/v1/namespaces",
                         "/api/v1/namespaces/default/pods/x/log", "/apis/nope/v1/x"]) | \
    st.text(alphabet="/abcdefghijklmnopqrstuvwxyz0123456789-.", max_size=40).map(lambda s: "/" + s)
content_types = st.sampled_from(["application/json", "application/yaml", "application/merge-patch+json",
                                 "application/json-patch+json", "application/strategic-merge-patch+json",
                                 "application/apply-patch+yaml", "text/plain", ""])
bodies = json_values.map(lambda v: json.dumps(v).encode()) | st.binary(max_size=200)
queries = st.dictionaries(st.sampled_from(["labelSelector", "fieldSelector", "limit", "continue", "dryRun",
                                           "resourceVersion", "fieldManager", "gracePeriodSeconds"]),
                          st.text(max_size=15), max_size=3)


@pytest.fixture(scope="module")
def endpoint(module_srv):
    ctx = ssl.create_default_context(cafile=rest_ca(module_srv))
    return rest_url(module_srv), module_srv.tokens["admin"], ctx


def _send(endpoint, method, path, body, ct, query):
    base, token, ctx = endpoint
    url = base + urllib.parse.quote(path) + ("?" + urllib.parse.urlencode(query) if query else "")
    headers = {"Authorization": f"Bearer {token}"}
    if ct:
        headers["Content-Type"] = ct
    req = urllib.request.Request(url, data=body if method not in ("GET",) else None, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


@settings(max_examples=int(os.environ.get("MINIK8S_FUZZ_EXAMPLES", "150")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(method=st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"]), path=paths, body=bodies,
       ct=content_types, query=queries)
def test_random_requests_get_status_answers(endpoint, method, path, body, ct, query):
    query.pop("watch", None)
    code, raw = _send(endpoint, method, path, body, ct, query)
    assert code in CODES, (code, raw[:300])
    if code >= 400:
        status = json.loads(raw)
        assert status["kind"] == "Status" and status["code"] == code
    assert _send(endpoint, "GET", "/api/v1", None, "", {})[0] == 200
