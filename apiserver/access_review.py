"""The authorization.k8s.io/v1 reviews and impersonation: questions put to the authorizer chain,
answered and never stored.

- SelfSubjectAccessReview: may I do this? (every authenticated user may ask: system:basic-user)
- SubjectAccessReview: may that user, in those groups, do this? (needs `create subjectaccessreviews`)
- SelfSubjectRulesReview: what may I do in this namespace? (`minictl auth can-i --list`)
- impersonation (`Impersonate-User`/`Impersonate-Group`, as gRPC metadata `impersonate-user` and
  `impersonate-group`): the request runs as that user, if the caller may `impersonate` the user and
  each group."""
from __future__ import annotations

from minik8s.api.errors import BadRequest
from minik8s.api.pb import rbac_pb2

from apiserver.auth import AUTHENTICATED, Identity
from apiserver.authorizer import Attributes, Authorizer

GROUP, VERSION = "authorization.k8s.io", "v1"
ACCESS_REVIEWS = ("SelfSubjectAccessReview", "SubjectAccessReview")
RULES_REVIEW = "SelfSubjectRulesReview"
REVIEW_KINDS = ACCESS_REVIEWS + (RULES_REVIEW,)
_PLURALS = {"SelfSubjectAccessReview": "selfsubjectaccessreviews", "SubjectAccessReview": "subjectaccessreviews",
            "SelfSubjectRulesReview": "selfsubjectrulesreviews"}


def message_for(kind: str):
    return rbac_pb2.SelfSubjectRulesReview if kind == RULES_REVIEW else rbac_pb2.SubjectAccessReview


def impersonate(authz: Authorizer, ident: Identity, metadata) -> Identity:
    """The identity a request runs as: the caller's own, or the one it impersonates."""
    user = ""
    groups = []
    for key, value in metadata or ():
        if key == "impersonate-user":
            user = value
        elif key == "impersonate-group":
            groups.append(value)
    if not user:
        if groups:
            raise BadRequest("requested impersonation of groups without impersonating a user")
        return ident
    authz.authorize(ident, Attributes("impersonate", "", "users", name=user))
    for g in groups:
        authz.authorize(ident, Attributes("impersonate", "", "groups", name=g))
    return Identity(user, tuple(g for g in groups if g != AUTHENTICATED) + (AUTHENTICATED,))


def _attributes(spec) -> Attributes:
    if spec.HasField("nonResourceAttributes"):
        n = spec.nonResourceAttributes
        return Attributes(n.verb, path=n.path)
    r = spec.resourceAttributes
    if not r.verb:
        raise BadRequest("spec.resourceAttributes.verb: Required value")
    return Attributes(r.verb, r.group, r.resource, r.subresource, r.namespace, r.name)


def review(authz: Authorizer, ident: Identity, kind: str, obj):
    """Answer a review of `kind` asked by `ident`; `obj` is the request, returned with its status."""
    authz.authorize(ident, Attributes("create", GROUP, _PLURALS[kind]))
    obj.apiVersion, obj.kind = f"{GROUP}/{VERSION}", kind
    if kind == RULES_REVIEW:
        return _rules_review(authz, ident, obj)
    if kind == "SelfSubjectAccessReview":
        obj.spec.user, obj.spec.groups[:] = ident.user, list(ident.groups)
    elif not obj.spec.user and not obj.spec.groups:
        raise BadRequest("at least one of user or group must be specified")
    subject = Identity(obj.spec.user, tuple(obj.spec.groups))
    allowed, reason = authz.decide(subject.user, subject.groups, _attributes(obj.spec), subject.node_name)
    obj.status.allowed, obj.status.reason = allowed, reason
    return obj


def _rules_review(authz: Authorizer, ident: Identity, obj):
    if not obj.spec.namespace:
        raise BadRequest("spec.namespace: Required value: no namespace on request")
    status = obj.status
    if "system:masters" in ident.groups:
        status.resourceRules.add(verbs=["*"], apiGroups=["*"], resources=["*"])
        status.nonResourceRules.add(verbs=["*"], nonResourceURLs=["*"])
    for rule in authz.rbac.rules_for(ident.user, ident.groups, obj.spec.namespace):
        if rule.urls:
            status.nonResourceRules.add(verbs=sorted(rule.verbs), nonResourceURLs=sorted(rule.urls))
        else:
            status.resourceRules.add(verbs=sorted(rule.verbs), apiGroups=sorted(rule.groups),
                                     resources=sorted(rule.resources), resourceNames=sorted(rule.names))
    if ident.node_name is not None:
        status.incomplete = True
        status.evaluationError = "node authorizer does not support user rule resolution"
    return obj


def decode(kind: str, raw: bytes):
    try:
        return message_for(kind).FromString(raw)
    except Exception:
        raise BadRequest(f"cannot decode {kind}: malformed protobuf") from None
