"""Kubernetes' protobuf wire form for the access reviews: `k8s\\0` then a runtime.Unknown holding the
object under upstream's field numbers. kubectl's typed clients (`kubectl auth can-i`) post reviews this
way and read the answer back the same way; every other request is JSON or YAML."""
from __future__ import annotations

from google.protobuf import json_format

from minik8s.api.errors import BadRequest
from minik8s.api.pb import k8swire_pb2

MAGIC = b"k8s\x00"
PROTOBUF = "application/vnd.kubernetes.protobuf"
_WIRE = {"SelfSubjectAccessReview": k8swire_pb2.SubjectAccessReview,
         "SubjectAccessReview": k8swire_pb2.SubjectAccessReview,
         "SelfSubjectRulesReview": k8swire_pb2.SelfSubjectRulesReview}


def decode(kind: str, body: bytes) -> dict:
    """A posted review as JSON data (spec only: metadata and status are the server's)."""
    try:
        if not body.startswith(MAGIC):
            raise ValueError("no k8s envelope")
        unknown = k8swire_pb2.Unknown.FromString(body[len(MAGIC):])
        msg = _WIRE[kind].FromString(unknown.raw)
    except Exception:
        raise BadRequest(f"cannot decode {kind}: malformed protobuf") from None
    return {"spec": json_format.MessageToDict(msg.spec, preserving_proto_field_name=True)}


def encode(kind: str, api_version: str, answer: dict) -> bytes:
    msg = json_format.ParseDict({k: answer[k] for k in ("spec", "status") if k in answer}, _WIRE[kind](),
                                ignore_unknown_fields=True)
    envelope = k8swire_pb2.Unknown(typeMeta=k8swire_pb2.TypeMeta(apiVersion=api_version, kind=kind),
                                   raw=msg.SerializeToString(), contentType=PROTOBUF)
    return MAGIC + envelope.SerializeToString()
