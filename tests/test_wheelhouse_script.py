"""The Python and the install.sh that the wheelhouse component carries inline: held to the catalogue's lint and type
rules, and its platform and requirement logic checked directly (the engine tests cover the whole flow)."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from tests.engine import ROOT

TEMPLATE = ROOT / "templates" / "wheelhouse.yml"
VENV_BIN = ROOT / ".venv" / "bin"


def _heredoc(marker: str) -> str:
    """The text between `<<'MARKER'` and the closing MARKER line in the job's script."""
    _spec, body = yaml.safe_load_all(TEMPLATE.read_text())
    (job,) = body.values()
    script = "\n".join(job["script"])
    match = re.search(rf"<<'{marker}'\n(.*?)\n{marker}\n", script, re.DOTALL)
    assert match is not None, marker
    return match.group(1) + "\n"


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("wheelhouse-src")
    paths = {"py": out / "wheelhouse_job.py", "sh": out / "install.sh"}
    paths["py"].write_text(_heredoc("WHEELHOUSE_PY"))
    paths["sh"].write_text(_heredoc("WHEELHOUSE_INSTALL_SH"))
    return paths


@pytest.fixture(scope="module")
def job(sources: dict[str, Path]) -> ModuleType:
    spec = importlib.util.spec_from_file_location("wheelhouse_job", sources["py"])
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def _tool(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(cmd), cwd=ROOT, capture_output=True, text=True, check=False)


def test_inline_python_is_ruff_mypy_and_pyright_clean(sources: dict[str, Path]) -> None:
    py = str(sources["py"])
    for cmd in (
        [str(VENV_BIN / "ruff"), "check", "--config", "pyproject.toml", py],
        [str(VENV_BIN / "ruff"), "format", "--check", "--config", "pyproject.toml", py],
        [str(VENV_BIN / "mypy"), "--strict", "--no-incremental", py],
        [str(VENV_BIN / "pyright"), py],
    ):
        done = _tool(*cmd)
        assert done.returncode == 0, f"{cmd[0]}: {done.stdout}{done.stderr}"


def test_install_sh_is_posix_sh_and_passes_shellcheck(sources: dict[str, Path]) -> None:
    assert _tool("sh", "-n", str(sources["sh"])).returncode == 0
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed")
    done = _tool("shellcheck", "--shell=sh", str(sources["sh"]))
    assert done.returncode == 0, done.stdout


@pytest.mark.parametrize(
    ("target", "first", "must", "must_not"),
    [
        ("manylinux_2_28_x86_64", "manylinux_2_28_x86_64", ["manylinux2014_x86_64", "manylinux1_x86_64"], []),
        ("manylinux2014_aarch64", "manylinux_2_17_aarch64", ["manylinux2014_aarch64"], ["manylinux2010_aarch64"]),
        ("manylinux_2_31_riscv64", "manylinux_2_31_riscv64", ["manylinux_2_17_riscv64"], ["manylinux_2_16_riscv64"]),
        ("musllinux_1_2_x86_64", "musllinux_1_2_x86_64", ["musllinux_1_1_x86_64"], ["manylinux_2_17_x86_64"]),
    ],
)
def test_a_target_accepts_its_own_and_older_compatible_platform_tags(
    job: Any, target: str, first: str, must: list[str], must_not: list[str]
) -> None:
    tags: list[str] = job.platforms(target)
    assert tags[0] == first
    assert set(must) <= set(tags)
    assert not set(must_not) & set(tags)


def test_a_manylinux_target_older_than_its_architecture_is_refused(job: Any) -> None:
    with pytest.raises(job.JobError, match="below glibc"):
        job.platforms("manylinux1_aarch64")


def test_markers_are_evaluated_for_the_target_not_for_this_machine(job: Any) -> None:
    pins, _ = job.parse_pins(
        "uvloop==0.21.0 ; sys_platform != 'win32'\n"
        "colorama==0.4.6 ; sys_platform == 'win32'\n"
        "exceptiongroup==1.3.0 ; python_full_version < '3.11'\n"
        "greenlet==3.2.4 ; platform_machine == 'aarch64'\n"
    )
    names = {p.name for p in job.applicable(pins, "manylinux2014_aarch64", "3.10")}
    assert names == {"uvloop", "exceptiongroup", "greenlet"}
    names = {p.name for p in job.applicable(pins, "manylinux_2_28_x86_64", "3.12")}
    assert names == {"uvloop"}


def test_hashed_multiline_pins_are_read_with_their_hashes_and_options_kept(job: Any) -> None:
    text = (
        "# comment\n"
        "--extra-index-url https://mirror.invalid/simple\n"
        "anyio==4.16.0 \\\n"
        "    --hash=sha256:aaa \\\n"
        "    --hash=sha256:bbb\n"
        "    # via fastapi\n"
        "Six===1.17.0\n"
    )
    pins, options = job.parse_pins(text)
    assert options == ["--extra-index-url https://mirror.invalid/simple"]
    assert [(p.spec, p.hashes) for p in pins] == [
        ("anyio==4.16.0", ("sha256:aaa", "sha256:bbb")),
        ("Six===1.17.0", ()),
    ]
    assert pins[0].line() == "anyio==4.16.0 --hash=sha256:aaa --hash=sha256:bbb"


@pytest.mark.parametrize(
    "line",
    [
        "requests>=2",
        "requests",
        "-e .",
        "-r other.txt",
        "pkg @ https://x.invalid/pkg.whl",
        "--no-binary :all:",
        "a==1.*",
    ],
)
def test_a_requirement_that_is_not_one_pinned_version_is_refused(job: Any, line: str) -> None:
    with pytest.raises(job.JobError, match="cannot honour"):
        job.parse_pins(f"six==1.17.0\n{line}\n")


def test_array_inputs_are_read_as_json_and_every_item_checked(job: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WH_TEST", 'json:["3.11", "3.12", "3.11"]')
    assert job.read_list("WH_TEST", job.PYTHON_RE, "python_versions", allow_empty=False) == ["3.11", "3.12"]
    for hostile in ('json:["3.12; id"]', "json:3.12", '["3.12"]', "json:[1]", "json:[]"):
        monkeypatch.setenv("WH_TEST", hostile)
        with pytest.raises(job.JobError):
            job.read_list("WH_TEST", job.PYTHON_RE, "python_versions", allow_empty=False)


def test_an_unreachable_index_is_named_as_such_not_as_a_missing_wheel(
    job: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [k for k in os.environ if k.startswith("PIP_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_RETRIES", "1")  # pip names the connection error only when it retries
    # the job runs pip as `sys.executable -m pip`: use an interpreter that has pip (this venv has none)
    monkeypatch.setattr(sys, "executable", str(Path(sys.base_prefix) / "bin" / "python3"))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    fetcher = job.Fetcher(options=[f"--index-url http://127.0.0.1:{port}/simple"], dest=tmp_path, scratch=tmp_path)
    pins, _ = job.parse_pins("six==1.17.0\n")
    problem = fetcher.download(pins, "manylinux_2_28_x86_64", "3.12")
    assert problem is not None
    assert problem.startswith("index unreachable:"), problem


@pytest.mark.parametrize(
    ("pyproject", "expected"),
    [
        ('[project]\nname = "a"\n[build-system]\nrequires = ["flit_core"]\n', "wheel"),
        ('[project]\nname = "a"\n', "source"),
        ('[project]\nname = "a"\n[build-system]\nrequires = ["x"]\n[tool.uv]\npackage = false\n', "source"),
    ],
)
def test_auto_ships_a_package_as_wheel_and_an_application_folder_as_source(
    job: Any, tmp_path: Path, pyproject: str, expected: str
) -> None:
    (tmp_path / "pyproject.toml").write_text(pyproject)
    assert job.project_mode(tmp_path, "auto") == expected
    assert job.project_mode(tmp_path, "wheel") == "wheel"


def test_example_is_shipped_as_source(job: Any) -> None:
    assert job.project_mode(ROOT / "example", "auto") == "source"


def test_source_copy_leaves_out_secrets_environments_and_build_output(job: Any, tmp_path: Path) -> None:
    project = tmp_path / "svc"
    for rel in ("app/main.py", "gunicorn.conf.py", ".env", ".venv/bin/python", "dist/x.whl", "app/__pycache__/m.pyc"):
        (project / rel).parent.mkdir(parents=True, exist_ok=True)
        (project / rel).write_text("x")
    assert job.copy_source(project, tmp_path / "out") == 2
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.py")) == [
        "app/main.py",
        "gunicorn.conf.py",
    ]


def test_lock_auto_prefers_uv_then_poetry_then_requirements(
    job: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bogus locks make auto's choice visible: that lock's tool runs and refuses it, never the requirements file."""
    monkeypatch.setenv("WHEELHOUSE_POETRY_VERSION", "2.5.1")
    monkeypatch.setenv("WHEELHOUSE_POETRY_EXPORT_VERSION", "1.10.1")
    (tmp_path / "requirements.txt").write_text("six==1.17.0\n")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "0"\n')
    export: dict[str, object] = {"lock": "auto", "requirements": "requirements.txt", "extras": [], "groups": []}
    assert job.export_lock(tmp_path, tmp_path / "out.txt", **export) == "requirements (requirements.txt)"
    with pytest.raises(job.JobError, match=r"lock is poetry but .*poetry\.lock is missing"):
        job.export_lock(tmp_path, tmp_path / "out.txt", **(export | {"lock": "poetry"}))
    (tmp_path / "poetry.lock").write_text("# not a lock\n")
    with pytest.raises(job.JobError, match="poetry export failed"):
        job.export_lock(tmp_path, tmp_path / "out.txt", **export)
    (tmp_path / "uv.lock").write_text("# not a lock either\n")
    with pytest.raises(job.JobError, match="uv export failed"):
        job.export_lock(tmp_path, tmp_path / "out.txt", **export)


def test_poetry_export_selects_extras_and_groups_with_pinned_tools(job: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WHEELHOUSE_POETRY_VERSION", "2.5.1")
    monkeypatch.setenv("WHEELHOUSE_POETRY_EXPORT_VERSION", "1.10.1")
    cmd = job.poetry_export_command(Path("/out.txt"), ["plain", "fast"], ["web"])
    assert cmd[1:7] == ["tool", "run", "--from", "poetry==2.5.1", "--with", "poetry-plugin-export==1.10.1"]
    assert cmd[-6:] == ["--extras", "plain", "--extras", "fast", "--with", "web"]
    assert "--without-hashes" not in cmd
