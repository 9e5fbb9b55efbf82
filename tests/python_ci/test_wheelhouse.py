"""The wheelhouse job in-process, on fixture projects: what it publishes, what the installer makes of it offline,
and that a failure publishes nothing."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from python_ci.__main__ import main as python_ci
from python_ci.job import JobError
from python_ci.platform_tags import PYTHON_RE
from python_ci.wheelhouse import main, read_list
from tests.python_ci.wheelhouse_support import PYTHON_WITH_PIP, SOURCE_APP, locked_workspace, use_python_with_pip

TARGET = "manylinux_2_28_x86_64"


def _job(monkeypatch: pytest.MonkeyPatch, root: Path, project_dir: str, **inputs: str) -> None:
    """The variables the component sets, with the tests' targets and this machine's Python."""
    use_python_with_pip(monkeypatch)
    version = subprocess.run(
        [PYTHON_WITH_PIP, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    variables = {
        "PYCI_ROOT": str(root),
        "PYCI_PROJECT_DIR": project_dir,
        "PYCI_ARTIFACT_NAME": "house",
        "PYCI_TARGETS": f'json:["{TARGET}"]',
        "PYCI_PYTHON_VERSIONS": f'json:["{version}"]',
        "PYCI_EXTRAS": "json:[]",
        "PYCI_GROUPS": "json:[]",
        "PYCI_REQUIREMENTS_FILE": "requirements.txt",
        "PYCI_UV_VERSION": "0.13.9",
        "UV_PYTHON_DOWNLOADS": "never",
    }
    for name, value in (variables | inputs).items():
        monkeypatch.setenv(name, value)


def _install(published: Path, venv: Path) -> subprocess.CompletedProcess[str]:
    """install.sh from the archive, with pip's index switched off (the wheelhouse must be enough)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")} | {
        "PYTHON": PYTHON_WITH_PIP,
        "PIP_INDEX_URL": "http://127.0.0.1:9/simple",
    }
    cmd = ["sh", str(published / "install.sh"), "--archive", str(published / "house.tar.gz"), str(venv)]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, check=False, timeout=300)


def test_array_inputs_are_read_as_json_and_every_item_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WH_TEST", 'json:["3.11", "3.12", "3.11"]')
    assert read_list("WH_TEST", PYTHON_RE, "python_versions", allow_empty=False) == ["3.11", "3.12"]
    monkeypatch.setenv("WH_TEST", "json:[3.1, 3.11]")
    with pytest.raises(JobError, match=r"\[3\.1, 3\.11\] are numbers, not text; quote every item"):
        read_list("WH_TEST", PYTHON_RE, "python_versions", allow_empty=False)
    for hostile in ('json:["3.12; id"]', "json:3.12", '["3.12"]', "json:[true]", "json:[]", "json:[3.1"):
        monkeypatch.setenv("WH_TEST", hostile)
        with pytest.raises(JobError):
            read_list("WH_TEST", PYTHON_RE, "python_versions", allow_empty=False)


def test_an_application_with_no_dependencies_ships_its_source_without_ci_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "repo"
    shutil.copytree(SOURCE_APP, root / "app")
    (root / "app" / ".pytest_cache").mkdir()
    (root / "app" / ".pytest_cache" / "README.md").write_text("cache")
    _job(monkeypatch, root, "app")
    assert main([]) == 0

    published = root / "app" / "dist" / "wheelhouse"
    assert sorted(p.name for p in published.iterdir()) == ["house.tar.gz", "house.tar.gz.sha256", "install.sh"]
    dotenv = (root / "app" / "dist" / "wheelhouse.env").read_text().splitlines()
    assert dotenv[0] == "WHEELHOUSE_ARCHIVE=app/dist/wheelhouse/house.tar.gz"
    with tarfile.open(published / "house.tar.gz") as tar:
        names = {n.removeprefix("house/") for n in tar.getnames()}
        manifest = json.loads(tar.extractfile("house/wheelhouse.json").read())  # type: ignore[union-attr]
    project = sorted(n.removeprefix("project/") for n in names if n.startswith("project/"))
    assert not [n for n in project if n.startswith((".", "Dockerfile", "compose"))], project
    assert "app/main.py" in project and "gunicorn.conf.py" in project
    assert manifest["wheels"] == []
    assert manifest["project"]["mode"] == "source"
    assert not [p for p in (root / "app" / "dist").iterdir() if p.name.startswith(".wheelhouse-")]

    venv = tmp_path / "venv"
    done = _install(published, venv)
    assert done.returncode == 0, done.stdout + done.stderr
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "app.main"], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert where.stdout.strip() == str(venv / "project" / "app")


def test_a_workspace_member_packs_its_pins_the_members_it_needs_and_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """uv.lock sits at the workspace root, whose .python-version names 3.14 (which this machine lacks): the job's
    own Python exports it."""
    root = locked_workspace(tmp_path / "ws")
    _job(monkeypatch, root, "svc")
    assert main([]) == 0
    assert f"the job's Python: {platform.python_version()} ({PYTHON_WITH_PIP})" in capsys.readouterr().err
    published = root / "svc" / "dist" / "wheelhouse"
    with tarfile.open(published / "house.tar.gz") as tar:
        manifest = json.loads(tar.extractfile("house/wheelhouse.json").read())  # type: ignore[union-attr]
    assert manifest["lock"] == "uv.lock (workspace ., member svc)"
    assert manifest["wheels"] == [
        "greet-0.2.0-py3-none-any.whl",
        "six-1.17.0-py2.py3-none-any.whl",
        "svc-0.3.0-py3-none-any.whl",
    ]
    venv = tmp_path / "venv"
    done = _install(published, venv)
    assert done.returncode == 0, done.stdout + done.stderr
    banner = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import svc; print(svc.banner())"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert banner.stdout.strip() == "hello, svc"


def test_a_package_with_no_dependencies_packs_just_its_own_wheel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = locked_workspace(tmp_path / "ws")
    _job(monkeypatch, root, "greet")
    assert main([]) == 0
    with tarfile.open(root / "greet" / "dist" / "wheelhouse" / "house.tar.gz") as tar:
        manifest = json.loads(tar.extractfile("house/wheelhouse.json").read())  # type: ignore[union-attr]
        requirements = tar.extractfile("house/requirements.txt").read()  # type: ignore[union-attr]
    assert manifest["wheels"] == ["greet-0.2.0-py3-none-any.whl"]
    assert manifest["project"] == {"mode": "wheel", "shipped": "greet-0.2.0-py3-none-any.whl"}
    assert requirements == b""


def test_a_failure_publishes_nothing_not_even_an_older_wheelhouse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "repo"
    shutil.copytree(SOURCE_APP, root / "app")
    (root / "app" / "requirements.txt").write_text("six>=1\n")
    old = root / "app" / "dist" / "wheelhouse"
    old.mkdir(parents=True)
    (old / "house.tar.gz").write_text("an older run's")
    (root / "app" / "dist" / "wheelhouse.env").write_text("WHEELHOUSE_SHA256=old\n")
    _job(monkeypatch, root, "app")
    assert python_ci(["wheelhouse"]) == 1
    assert "python-ci wheelhouse: the pinned requirements hold lines" in capsys.readouterr().err
    assert list((root / "app" / "dist").iterdir()) == []


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"PYCI_ARTIFACT_NAME": "x;y"}, "artifact name 'x;y' refused"),
        ({"PYCI_TARGETS": 'json:["win_amd64"]'}, "targets: refused"),
        ({"PYCI_PROJECT": "egg"}, "project must be one of"),
        ({"PYCI_LOCK": "pipenv"}, "lock must be one of"),
    ],
)
def test_a_bad_input_is_refused_before_anything_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, inputs: dict[str, str], message: str
) -> None:
    shutil.copytree(SOURCE_APP, tmp_path / "app")
    _job(monkeypatch, tmp_path, "app", **inputs)
    with pytest.raises(JobError, match=message):
        main([])
    assert not (tmp_path / "app" / "dist").exists()
