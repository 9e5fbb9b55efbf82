"""The set-up gives the pinned engine and the Node it needs."""

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_gitlab_ci_local_runs_on_node_22() -> None:
    out = subprocess.run(["gitlab-ci-local", "--version"], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    node = subprocess.run(["node", "--version"], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "4.75.1"
    assert int(node.strip().lstrip("v").split(".")[0]) >= 22
