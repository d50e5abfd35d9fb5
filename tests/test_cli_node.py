"""Adding a node to a running cluster: the token written for it into the server's token file is
accepted without restarting the API server (the file is re-read when an unknown token arrives after it
changed), and tokens never written stay refused."""
from __future__ import annotations

import pytest

from minik8s.api.errors import Unauthenticated
from minik8s.client.home import token_csv, write_token_file

from cluster import IDENTITIES


def test_a_token_added_to_the_file_is_accepted_by_the_running_server(srv):
    with pytest.raises(Unauthenticated):
        srv.client("feedface").version()
    rows = [(srv.tokens[n], user, n, groups) for n, (user, groups) in IDENTITIES.items()]
    write_token_file(token_csv(srv.home), rows + [("feedface", "system:node:node-9", "node-9", "system:nodes")])
    assert srv.client("feedface").version().user == "system:node:node-9"
    assert srv.client("admin").version().user == "admin"
    with pytest.raises(Unauthenticated):
        srv.client("deadbeef").version()
