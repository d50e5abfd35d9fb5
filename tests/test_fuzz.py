"""Fuzzing the way in: random documents and mutations of real manifests through the manifest decoder,
and random bytes and mutated objects through the API server. The decoder answers only with clean
field errors; the server answers only with typed API errors, never dies, and stores nothing it refused."""
from __future__ import annotations

import copy
import json

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minik8s.api.errors import ApiError, NotFound
from minik8s.api.manifest import ManifestError, load_text
from minik8s.api.pb import api_pb2

DEPLOYMENT = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "web", "labels": {"app": "web"}},
    "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
             "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}},
             "template": {"metadata": {"labels": {"app": "web"}},
                          "spec": {"containers": [{
                              "name": "web", "image": "nginx:1.25",
                              "ports": [{"containerPort": 80}],
                              "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
                              "env": [{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                              "readinessProbe": {"httpGet": {"path": "/", "port": 80}}}]}}}}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20)


def _paths(doc, prefix=()):
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _paths(v, prefix + (i,))


ALL_PATHS = [p for p in _paths(DEPLOYMENT) if p]


def _same_type(old):
    if isinstance(old, bool):
        return st.booleans()
    if isinstance(old, int):
        return st.integers(-2**40, 2**40)
    if isinstance(old, str):
        return st.text(max_size=30) | st.sampled_from(["", "0", "-1", "1e9", "100Mi", "a" * 300, "Web_1"])
    if isinstance(old, dict):
        return st.dictionaries(st.text(max_size=20), st.text(max_size=20), max_size=3)
    return st.lists(st.just(old[0]) if old else st.none(), max_size=3)


@st.composite
def mutated_manifests(draw):
    doc = copy.deepcopy(DEPLOYMENT)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(ALL_PATHS))
        parent = doc
        try:
            for k in path[:-1]:
                parent = parent[k]
            old = parent[path[-1]]
            mode = draw(st.integers(0, 2))
            if mode == 0:       # same type, any value: gets past the decoder to validation
                parent[path[-1]] = draw(_same_type(old))
            elif mode == 1:
                parent[path[-1]] = draw(json_values)
            elif isinstance(parent, dict):
                parent[draw(st.text(min_size=1, max_size=10))] = draw(json_values)
        except (KeyError, IndexError, TypeError):
            pass
    return doc


def _decode(doc):
    """Decode a document as minictl does; None when it is cleanly refused."""
    try:
        return load_text(json.dumps(doc), "fuzz.json", is_json=True)
    except ManifestError as e:
        assert e.errors and all(line.startswith("fuzz.json") for line in e.errors)
        return None


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_random_documents_get_clean_errors(doc):
    _decode(doc)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_random_yaml_text_gets_clean_errors(text):
    try:
        load_text(text, "fuzz.yaml")
    except ManifestError as e:
        assert all(line.startswith("fuzz.yaml") for line in e.errors)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutated_manifests())
def test_mutated_manifests_through_the_server(module_srv, doc):
    c = module_srv.client()
    decoded = _decode(doc)
    if not decoded:
        return
    obj = decoded[0].obj
    try:
        created = c.create(obj)
    except ApiError as e:
        assert type(e) is not ApiError, f"internal error for {doc}: {e}"
        if obj.metadata.name and obj.metadata.namespace in ("", "default"):
            with pytest.raises(NotFound):          # refused means not stored
                c.get("deployments", obj.metadata.name)
        return
    c.delete("deployments", created.metadata.name, created.metadata.namespace)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(["Pod", "Deployment", "Service", "Job", "Node", "Nope", ""]), st.binary(max_size=300))
def test_random_bytes_as_objects_never_hurt_the_server(module_srv, kind, raw):
    c = module_srv.client()
    try:
        c._call("Create", api_pb2.ObjectRequest(kind=kind, object=raw))
    except ApiError as e:
        assert type(e) is not ApiError, f"internal error: {e}"
    assert c.version().gitVersion          # still serving
    assert module_srv.proc.poll() is None


def test_server_stored_nothing_refused(module_srv):
    """After the fuzzing above (run it in this module's order), the only Deployments the server ever
    stored were the accepted ones, which the test deleted: none is left."""
    assert module_srv.proc.poll() is None
    assert [d.metadata.name for d in module_srv.client().list("deployments")] == []
