"""Test support shared by every test file: the wait helper (`wait_for`, `wait_for_sync`) and the
controller test doubles (`FakeKubelet`, `running_manager`). The API server process lives in
`tests/cluster.py`, the fixtures built on it in `tests/conftest.py`."""
from support.controllers import FakeKubelet, running_manager, set_running
from support.wait import wait_for, wait_for_sync

__all__ = ["FakeKubelet", "running_manager", "set_running", "wait_for", "wait_for_sync"]
