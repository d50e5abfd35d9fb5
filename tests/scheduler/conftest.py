import pytest

from cluster import ApiServerProcess


@pytest.fixture
def srv(tmp_path):
    s = ApiServerProcess(str(tmp_path)).start()
    yield s
    s.close()
