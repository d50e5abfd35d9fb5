"""Authentication: bearer tokens from a static token file.

The token file is upstream's static-token CSV: `token,user,uid,"group1,group2"`. Identities: the
admin (group system:masters), the control-plane components (system:kube-scheduler,
system:kube-controller-manager, system:kube-dns, system:cluster-autoscaler), and one per node
(system:node:NAME in group system:nodes); every one of them is also in system:authenticated, as
upstream adds it. A token not in the file may be a ServiceAccount token the server signed
(apiserver/serviceaccount_token.py). What an identity may do is the authorizer chain's to say
(apiserver/authorizer.py)."""
from __future__ import annotations

import csv
import os
from dataclasses import dataclass

from minik8s.api.errors import Unauthenticated

AUTHENTICATED = "system:authenticated"


@dataclass(frozen=True)
class Identity:
    user: str
    groups: tuple[str, ...] = ()

    @property
    def node_name(self) -> str | None:
        if self.user.startswith("system:node:") and "system:nodes" in self.groups:
            return self.user[len("system:node:"):]
        return None


def _file_stamp(path: str):
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


class TokenAuthenticator:
    """The static token file, read again when an unknown token arrives after the file changed: a node
    added to a running cluster (`minictl node add`) gets its token written there, and no restart."""

    def __init__(self, path: str, service_accounts=None):
        self.path = path
        self.service_accounts = service_accounts    # ServiceAccountTokens, or None: static tokens only
        self.tokens: dict[str, Identity] = {}
        self.reload()

    def reload(self) -> None:
        self._stamp = _file_stamp(self.path)
        tokens = {}
        with open(self.path, newline="") as f:
            for row in csv.reader(f):
                if not row or row[0].startswith("#") or len(row) < 2:
                    continue
                groups = tuple(g for g in (row[3] if len(row) > 3 else "").split(",") if g and g != AUTHENTICATED)
                tokens[row[0].strip()] = Identity(row[1].strip(), groups + (AUTHENTICATED,))
        self.tokens = tokens

    def authenticate(self, metadata) -> Identity:
        header = ""
        for key, value in metadata or ():
            if key == "authorization":
                header = value
                break
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer":      # any case, as upstream: the Python client's in-cluster config sends "bearer"
            raise Unauthenticated("Unauthorized: no bearer token")
        token = token.strip()
        ident = self.tokens.get(token)
        if ident is None and _file_stamp(self.path) != self._stamp:
            self.reload()
            ident = self.tokens.get(token)
        if ident is None and self.service_accounts is not None:
            ident = self.service_accounts.authenticate(token)
        if ident is None:
            raise Unauthenticated("Unauthorized: invalid bearer token")
        return ident
