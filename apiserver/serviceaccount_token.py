"""ServiceAccount tokens, as upstream's bound (projected) tokens: the `serviceaccounts/token`
subresource (TokenRequest) signs a JWT with the cluster's key, and the authenticator turns such a
token back into the user `system:serviceaccount:NS:NAME` in groups `system:serviceaccounts`,
`system:serviceaccounts:NS` and `system:authenticated`.

A token carries `iss`, `aud`, `sub`, `iat`, `nbf`, `exp` and the `kubernetes.io` claim naming the
namespace, the ServiceAccount (name, uid) and the object it is bound to (a Pod, Secret or Node: name,
uid). It is honoured only while it has not expired, the ServiceAccount still exists with that uid, and
so does the bound object: a pod's token dies with the pod (a terminating pod keeps it through its
grace period, as upstream). The signing key is RS256, kept at
HOME/pki/service-account.key (0600) and made when first needed; PyJWT does the encoding and checks.
PyJWT and cryptography are imported by the paths that sign or check a token: a server that has
issued none carries neither (some 9 MB)."""
from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING, Callable, Union

from minik8s.api import kinds
from minik8s.api.clock import Clock, rfc3339
from minik8s.api.errors import BadRequest, Forbidden, Invalid, NotFound
from minik8s.api.kinds.serviceaccount import groups, username
from minik8s.api.pb import authentication_pb2

from apiserver.auth import AUTHENTICATED, Identity

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import rsa

ISSUER = "https://kubernetes.default.svc.cluster.local"
KEY_FILE = "service-account.key"
ALGORITHM = "RS256"
DEFAULT_EXPIRATION = 3600
MIN_EXPIRATION = 600            # upstream: "may not specify a duration less than 10 minutes"
MAX_EXPIRATION = 1 << 32        # upstream: "may not specify a duration larger than 2^32 seconds"
BOUND_KINDS = {"Pod": kinds.POD, "Secret": kinds.SECRET, "Node": kinds.NODE}


def signing_key(pki: str) -> rsa.RSAPrivateKey:
    """The cluster's token signing key, made (mode 0600) when there is none yet."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    path = os.path.join(pki, KEY_FILE)
    try:
        with open(path, "rb") as f:
            return serialization.load_pem_private_key(f.read(), password=None)
    except FileNotFoundError:
        pass
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    os.makedirs(pki, mode=0o700, exist_ok=True)
    fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    os.replace(path + ".tmp", path)
    return key


def _invalid(name: str, field: str, value, detail: str) -> Invalid:
    return Invalid(f'TokenRequest.authentication.k8s.io "{name}" is invalid: {field}: Invalid value: '
                   f'{value}: {detail}', [(field, detail)])


class ServiceAccountTokens:
    """Issues tokens for the `token` subresource and authenticates them. `registry` is read for the
    ServiceAccount and the bound object, at issue and at every authentication."""

    def __init__(self, registry, key: Union["rsa.RSAPrivateKey", Callable[[], "rsa.RSAPrivateKey"]],
                 clock: Clock | None = None, issuer: str = ISSUER):
        """`key` is the signing key, or a function that loads it when the first token is signed or
        checked (the API server's, so that one that issues none never loads it)."""
        self.registry = registry
        self._key = key
        self.clock = clock or Clock()
        self.issuer = issuer
        self.api_audiences = (issuer,)

    @functools.cached_property
    def key(self) -> "rsa.RSAPrivateKey":
        return self._key() if callable(self._key) else self._key

    @functools.cached_property
    def public_key(self):
        return self.key.public_key()

    # ------------------------------------------------------------ TokenRequest
    def create_token(self, ident: Identity, namespace: str, name: str, req):
        """Answer TokenRequest `req` for ServiceAccount `namespace/name` (already authorized for
        `create serviceaccounts/token`): the request with `status.token` and `expirationTimestamp`."""
        spec = req.spec
        seconds = spec.expirationSeconds if spec.HasField("expirationSeconds") else DEFAULT_EXPIRATION
        if seconds < MIN_EXPIRATION:
            raise _invalid(name, "spec.expirationSeconds", seconds, "may not specify a duration less than 10 minutes")
        if seconds > MAX_EXPIRATION:
            raise _invalid(name, "spec.expirationSeconds", seconds, "may not specify a duration larger than 2^32 seconds")
        sa = self.registry.get(kinds.SERVICE_ACCOUNT, namespace, name).decode()
        bound = self._bound_object(ident, sa, spec.boundObjectRef) if spec.HasField("boundObjectRef") else None
        audiences = list(spec.audiences) or list(self.api_audiences)
        now = int(self.clock.now())
        claim = {"namespace": namespace, "serviceaccount": {"name": name, "uid": sa.metadata.uid}}
        if bound is not None:
            claim[bound[0].lower()] = {"name": bound[1], "uid": bound[2]}
        payload = {"iss": self.issuer, "aud": audiences, "sub": username(namespace, name),
                   "iat": now, "nbf": now, "exp": now + seconds, "kubernetes.io": claim}
        answer = authentication_pb2.TokenRequest()
        answer.CopyFrom(req)
        answer.apiVersion, answer.kind = "authentication.k8s.io/v1", "TokenRequest"
        answer.metadata.name, answer.metadata.namespace = name, namespace
        answer.spec.expirationSeconds = seconds
        del answer.spec.audiences[:]
        answer.spec.audiences.extend(audiences)
        if bound is not None:
            answer.spec.boundObjectRef.uid = bound[2]
        import jwt
        answer.status.token = jwt.encode(payload, self.key, algorithm=ALGORITHM)
        answer.status.expirationTimestamp = rfc3339(now + seconds)
        return answer

    def _bound_object(self, ident: Identity, sa, ref) -> tuple[str, str, str]:
        """(kind, name, uid) of the object the token is bound to, which must exist (with `ref.uid`, when
        given); a pod must run as this ServiceAccount, and a node may bind tokens only to its own pods."""
        info = BOUND_KINDS.get(ref.kind)
        if info is None:
            raise BadRequest(f'cannot bind token for object of kind "{ref.kind}": only Pod, Secret and Node')
        if not ref.name:
            raise _invalid(sa.metadata.name, "spec.boundObjectRef.name", '""', "Required value")
        ns = sa.metadata.namespace if info.namespaced else ""
        obj = self.registry.get(info, ns, ref.name).decode()
        if ref.uid and ref.uid != obj.metadata.uid:
            raise Forbidden(f"the UID in the bound object reference ({ref.uid}) does not match the UID in record. "
                            "The object might have been deleted and then recreated")
        if ref.kind == "Pod":
            if (obj.spec.serviceAccountName or "default") != sa.metadata.name:
                raise BadRequest(f'cannot bind token for serviceaccount "{sa.metadata.name}" to pod running with '
                                 f'different serviceaccount name.')
            if ident.node_name is not None and obj.spec.nodeName != ident.node_name:
                raise Forbidden(f'node "{ident.node_name}" can only create tokens bound to pods bound to it')
        elif ident.node_name is not None:
            raise Forbidden(f'node "{ident.node_name}" can only create tokens bound to pods bound to it')
        return ref.kind, ref.name, obj.metadata.uid

    # ------------------------------------------------------------ authentication
    def authenticate(self, token: str) -> Identity | None:
        """The ServiceAccount a token of ours names, or None when it is not ours, not valid now, or
        names a ServiceAccount or bound object that is gone."""
        if token.count(".") != 2:
            return None
        import jwt
        try:
            claims = jwt.decode(token, self.public_key, algorithms=[ALGORITHM], audience=list(self.api_audiences),
                                issuer=self.issuer, options={"verify_exp": False, "verify_nbf": False,
                                                             "require": ["exp", "sub", "kubernetes.io"]})
        except jwt.PyJWTError:
            return None
        now = self.clock.now()
        if not claims["exp"] > now:
            return None
        private = claims.get("kubernetes.io")
        if not isinstance(private, dict):
            return None
        ns = private.get("namespace", "")
        sa = private.get("serviceaccount") or {}
        if claims["sub"] != username(ns, sa.get("name", "")) or not self._exists(kinds.SERVICE_ACCOUNT, ns, sa):
            return None
        for kind, info in BOUND_KINDS.items():
            ref = private.get(kind.lower())
            if ref is not None and not self._exists(info, ns if info.namespaced else "", ref):
                return None
        return Identity(claims["sub"], groups(ns) + (AUTHENTICATED,))

    def _exists(self, info, namespace: str, ref) -> bool:
        if not isinstance(ref, dict):
            return False
        try:
            obj = self.registry.get(info, namespace, ref.get("name", "")).decode()
        except NotFound:
            return False
        return obj.metadata.uid == ref.get("uid")
