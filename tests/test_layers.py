"""The import contract (pyproject.toml's [tool.importlinter], docs/architecture.md "Layers"): the object
model loads without gRPC, and `lint-imports` finds every contract kept, so a component importing
another, a lower layer importing a higher one, a minictl verb importing another verb, or an import
cycle fails the suite as it fails CI."""
from __future__ import annotations

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_the_object_model_loads_without_grpc():
    code = ("import minik8s.api, minik8s.api.errors, minik8s.api.kinds, minik8s.api.codec; import sys; "
            "print(any(m == 'grpc' or m.startswith('grpc.') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_every_import_contract_is_kept():
    lint = os.path.join(os.path.dirname(sys.executable), "lint-imports")
    out = subprocess.run([lint, "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 broken" in out.stdout
