"""Manifest loading: good manifests decode to their messages; every bad one is reported with its source,
document and field path, all problems at once, and nothing is returned when any document is bad."""
from __future__ import annotations

import io
import os

import pytest

from minik8s.api.manifest import ManifestError, load_paths, load_text

POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  containers:
  - name: c
    image: busybox
"""

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: nginx
        image: nginx
"""


def errors_of(text: str, source: str = "deployment.yaml", is_json: bool = False) -> list[str]:
    with pytest.raises(ManifestError) as e:
        load_text(text, source, is_json)
    assert isinstance(e.value, ValueError)
    assert str(e.value) == "\n".join(e.value.errors)
    return e.value.errors


# ---------------------------------------------------------------- good manifests
def test_single_document_decodes_to_its_message():
    (m,) = load_text(DEPLOYMENT, "web.yaml")
    assert m.info.kind == "Deployment" and m.info.api_version == "apps/v1"
    assert type(m.obj).__name__ == "Deployment"
    assert m.obj.metadata.name == "web" and m.obj.spec.replicas == 2
    assert m.obj.spec.template.spec.containers[0].image == "nginx"
    assert m.source == "web.yaml" and m.doc == 1 and m.item is None
    assert m.where == "web.yaml: doc 1"
    assert m.data["spec"]["replicas"] == 2


def test_multi_document_yaml_keeps_order_and_skips_empty_documents():
    text = "---\n" + POD.format(name="a") + "---\n---\n# only a comment\n---\n" + DEPLOYMENT + "---\n"
    ms = load_text(text, "all.yaml")
    assert [(m.info.kind, m.obj.metadata.name) for m in ms] == [("Pod", "a"), ("Deployment", "web")]
    # document numbers count every document, the empty ones too, as an editor shows them
    assert [m.doc for m in ms] == [1, 4]


def test_json_manifest():
    text = '{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}}'
    (m,) = load_text(text, "ns.json", is_json=True)
    assert m.info.kind == "Namespace" and m.obj.metadata.name == "team-a"


def test_list_is_expanded_into_its_items():
    text = """\
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Pod
  metadata: {name: a}
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: web}
"""
    ms = load_text(text, "list.yaml")
    assert [(m.info.kind, m.obj.metadata.name, m.item) for m in ms] == [("Pod", "a", 0), ("Deployment", "web", 1)]
    assert ms[1].where == "list.yaml: doc 1: items[1]"


def test_typed_list_kind_is_expanded_too():
    text = '{"apiVersion": "v1", "kind": "PodList", "items": [{"apiVersion": "v1", "kind": "Pod", ' \
           '"metadata": {"name": "a"}}]}'
    (m,) = load_text(text, "pods.json", is_json=True)
    assert m.info.kind == "Pod"


def test_timestamps_and_numeric_quantities_stay_strings():
    text = """\
apiVersion: v1
kind: Pod
metadata:
  name: p
  creationTimestamp: 2024-01-01T00:00:00Z
spec:
  containers:
  - name: c
    image: busybox
    resources:
      limits: {cpu: 1, memory: 128Mi}
      requests: {cpu: 0.5}
"""
    (m,) = load_text(text, "p.yaml")
    assert m.obj.metadata.creationTimestamp == "2024-01-01T00:00:00Z"
    res = m.obj.spec.containers[0].resources
    assert res.limits["cpu"] == "1" and res.requests["cpu"] == "0.5"


# ---------------------------------------------------------------- bad manifests: exact messages
BAD = [
    # (text, errors)
    (POD.format(name="ok") + "---\n" + DEPLOYMENT.replace("image: nginx", "image: nginx\n        imagePull: Always"),
     ["deployment.yaml: doc 2: spec.template.spec.containers[0].imagePull: unknown field"]),
    ("apiVersion: apps/v1\nmetadata: {name: web}\n",
     ["deployment.yaml: doc 1: kind: Required value"]),
    ("kind: Deployment\nmetadata: {name: web}\n",
     ["deployment.yaml: doc 1: apiVersion: Required value"]),
    ("metadata: {name: web}\n",
     ["deployment.yaml: doc 1: apiVersion: Required value", "deployment.yaml: doc 1: kind: Required value"]),
    ("apiVersion: v1\nkind: Foo\n",
     ['deployment.yaml: doc 1: no matches for kind "Foo" in version "v1"']),
    ("apiVersion: 1\nkind: Pod\n",
     ["deployment.yaml: doc 1: apiVersion: expected string, got number"]),
    ("- a\n- b\n",
     ["deployment.yaml: doc 1: expected an object (a mapping of fields), got array"]),
    ("just a string\n",
     ["deployment.yaml: doc 1: expected an object (a mapping of fields), got string"]),
    (DEPLOYMENT.replace("replicas: 2", "replicas: two"),
     ["deployment.yaml: doc 1: spec.replicas: expected integer, got string"]),
    (DEPLOYMENT.replace("replicas: 2", "replicas: 99999999999"),
     ["deployment.yaml: doc 1: spec.replicas: integer 99999999999 out of range"]),
    (POD.format(name="p").replace("  - name: c\n    image: busybox\n", "    name: c\n"),
     ["deployment.yaml: doc 1: spec.containers: expected array, got object"]),
    # every bad field of a document, and of every document, is reported
    (POD.format(name="p").replace("image: busybox", "image: busybox\n    tty: yes please\n    imag: x")
     + "---\n" + POD.format(name="q").replace("kind: Pod", "kind: Pd"),
     ["deployment.yaml: doc 1: spec.containers[0].tty: expected boolean, got string",
      "deployment.yaml: doc 1: spec.containers[0].imag: unknown field",
      'deployment.yaml: doc 2: no matches for kind "Pd" in version "v1"']),
    ("apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: a}\n"
     "- apiVersion: v1\n  kind: Pod\n  spec: {nodeName: 3}\n- 7\n",
     ["deployment.yaml: doc 1: items[1].spec.nodeName: expected string, got number",
      "deployment.yaml: doc 1: items[2]: expected an object, got number"]),
    ("apiVersion: v1\nkind: List\nitems: {}\n",
     ["deployment.yaml: doc 1: items: expected array, got object"]),
    # a syntax error names its line; the documents before it are still checked
    (POD.format(name="a") + "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n   bad: 1\n",
     ["deployment.yaml: doc 2: yaml: line 14, column 7: mapping values are not allowed in this context"]),
    ("apiVersion: v1\nkind: Pod\nmetadata: {name: [}\n",
     ["deployment.yaml: doc 1: yaml: line 3, column 19: while parsing a flow node (did not find expected "
      "node content)"]),
]


@pytest.mark.parametrize("text,expected", BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_bad_manifest_errors(text, expected):
    assert errors_of(text) == expected


def test_json_syntax_error():
    assert errors_of('{"apiVersion": "v1",\n "kind": }', "x.json", is_json=True) == \
        ["x.json: doc 1: json: line 2, column 10: Expecting value"]


def test_wrong_version_of_a_known_kind():
    (err,) = errors_of("apiVersion: extensions/v1beta1\nkind: Deployment\nmetadata: {name: web}\n")
    assert err.startswith('deployment.yaml: doc 1: no matches for kind "Deployment" in version '
                          '"extensions/v1beta1"')


# ---------------------------------------------------------------- paths, directories, stdin
def test_directory_reads_manifest_files_sorted_top_level_only(tmp_path):
    d = tmp_path / "manifests"
    (d / "sub").mkdir(parents=True)
    (d / "b.yaml").write_text(POD.format(name="b"))
    (d / "a.yml").write_text(POD.format(name="a"))
    (d / "c.json").write_text('{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "c"}}')
    (d / "notes.txt").write_text("not a manifest")
    (d / "sub" / "d.yaml").write_text(POD.format(name="d"))
    ms = load_paths([str(d)])
    assert [m.obj.metadata.name for m in ms] == ["a", "b", "c"]
    assert ms[0].source == os.path.join(str(d), "a.yml")
    ms = load_paths([str(d)], recursive=True)
    assert [m.obj.metadata.name for m in ms] == ["a", "b", "c", "d"]


def test_errors_across_files_are_collected_and_nothing_returned(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text(POD.format(name="good"))
    bad = tmp_path / "bad.yaml"
    bad.write_text(POD.format(name="bad").replace("image: busybox", "image: busybox\n    imagePull: Always"))
    with pytest.raises(ManifestError) as e:
        load_paths([str(good), str(bad), str(tmp_path / "missing.yaml")])
    assert e.value.errors == [f'the path "{tmp_path / "missing.yaml"}" does not exist',
                              f"{bad}: doc 1: spec.containers[0].imagePull: unknown field"]


def test_stdin():
    stdin = io.StringIO(POD.format(name="a") + "---\n" + POD.format(name="b"))
    ms = load_paths(["-"], stdin=stdin)
    assert [(m.source, m.doc, m.obj.metadata.name) for m in ms] == [("STDIN", 1, "a"), ("STDIN", 2, "b")]
    with pytest.raises(ManifestError) as e:
        load_paths(["-"], stdin=io.StringIO("apiVersion: v1\nkind: Pod\nspec: {bogus: 1}\n"))
    assert e.value.errors == ["STDIN: doc 1: spec.bogus: unknown field"]


def test_empty_sources_give_no_manifests(tmp_path):
    (tmp_path / "empty.yaml").write_text("---\n# nothing here\n")
    assert load_paths([str(tmp_path / "empty.yaml")]) == []
    assert load_paths([str(tmp_path / "empty.yaml"), str(tmp_path)]) == []
