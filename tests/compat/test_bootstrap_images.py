"""The slow offline base images (mmdebstrap from a Debian mirror): only with BERTH_TEST_DEBIAN=1."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from tests.support.engine import REPO, EngineProcess

pytestmark = pytest.mark.skipif(
    os.environ.get("BERTH_TEST_DEBIAN") != "1" or shutil.which("mmdebstrap") is None,
    reason="minutes long and needs a Debian mirror: set BERTH_TEST_DEBIAN=1 (and install mmdebstrap)",
)


@pytest.mark.slow
def test_bootstrap_node_runs_node(engine: EngineProcess) -> None:
    r = subprocess.run([sys.executable, "-m", "engine", "bootstrap", "node", "--host", engine.host],
                       cwd=REPO, capture_output=True, text=True, timeout=1200)
    assert r.returncode == 0, r.stderr
    assert "Loaded image: node:latest" in r.stdout
    out = engine.docker("run", "--rm", "node", "node", "-e", "console.log(1 + 1)").out
    assert out == "2"
    engine.docker("rmi", "node:latest", "node:18", check=True)
