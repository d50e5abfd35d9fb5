"""Test support for the REST API of a test's API server (`srv`): its HTTPS address and the CA that
verifies it (the self-signed serving certificate the server keeps under HOME/pki)."""
from __future__ import annotations

import os
import ssl


def rest_url(srv) -> str:
    with open(os.path.join(srv.home, "run", "rest.port")) as f:
        return f"https://127.0.0.1:{int(f.read())}"


def rest_ca(srv) -> str:
    return os.path.join(srv.home, "pki", "apiserver-rest.crt")


def ssl_context(srv) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=rest_ca(srv))
