"""A tool's version as the project pins it, from every place projects pin tools."""

from pathlib import Path

import pytest

from python_ci.pins import Pin, choose_version, find_pin, version_tuple


def _project(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


LOCK = '[[package]]\nname = "Ruff"\nversion = "0.15.20"\n\n[[package]]\nname = "mypy"\nversion = "1.18.2"\n'


@pytest.mark.parametrize(
    ("files", "package", "pin"),
    [
        ({"uv.lock": LOCK}, "ruff", Pin("0.15.20", "uv.lock")),
        ({"poetry.lock": LOCK}, "mypy", Pin("1.18.2", "poetry.lock")),
        (
            {"requirements-dev.txt": "pytest\nruff==0.14.3 \\\n    --hash=sha256:00\nmypy>=1\n"},
            "ruff",
            Pin("0.14.3", "requirements-dev.txt"),
        ),
        ({"requirements/lint.txt": "mypy[faster-cache]==1.17.0 ; python_version >= '3.11'\n"}, "mypy",
         Pin("1.17.0", "requirements/lint.txt")),
        (
            {"pyproject.toml": '[dependency-groups]\ndev = ["pytest", {include-group = "lint"}]\n'
             'lint = ["ruff==0.13.1"]\n'},
            "ruff",
            Pin("0.13.1", "pyproject.toml [dependency-groups] lint"),
        ),
        (
            {"pyproject.toml": '[project]\nname = "x"\n'
             '[project.optional-dependencies]\ntyping = ["pyright==1.1.390"]\n'},
            "pyright",
            Pin("1.1.390", "pyproject.toml [project.optional-dependencies] typing"),
        ),
        (
            {"pyproject.toml": '[tool.poetry.group.dev.dependencies]\nmypy = "1.16.1"\n'
             'ruff = {version = "==0.12.0"}\n'},
            "ruff",
            Pin("0.12.0", "pyproject.toml [tool.poetry.group.dev.dependencies]"),
        ),
        (
            {".pre-commit-config.yaml": "repos:\n  - repo: https://example.invalid/x/mirrors-mypy\n    rev: v1.15.0\n"
             "  - repo: https://example.invalid/x/ruff-pre-commit.git  # lint\n    rev: 'v0.15.20'\n    hooks: []\n"},
            "ruff",
            Pin("0.15.20", ".pre-commit-config.yaml"),
        ),
        ({"pyproject.toml": '[dependency-groups]\ndev = ["ruff>=0.15"]\n'}, "ruff", None),
        ({"requirements.txt": "ruff-lsp==0.0.1\n"}, "ruff", None),
    ],
)  # fmt: skip
def test_pins_from_every_source(tmp_path: Path, files: dict[str, str], package: str, pin: Pin | None) -> None:
    root = _project(tmp_path, files)
    assert find_pin(root, root, package) == pin


def test_the_lock_wins_over_pre_commit_and_a_workspace_lock_is_found_from_a_member(tmp_path: Path) -> None:
    root = _project(
        tmp_path,
        {
            "uv.lock": LOCK,
            "svc/pyproject.toml": '[dependency-groups]\ndev = ["ruff==0.9.0"]\n',
            ".pre-commit-config.yaml": "repos:\n- repo: https://example.invalid/ruff-pre-commit\n  rev: v0.1.0\n",
        },
    )
    assert find_pin(root / "svc", root, "ruff") == Pin("0.15.20", "uv.lock")
    # Nothing above the checkout's root is read.
    assert find_pin(root / "svc", root / "svc", "ruff") == Pin("0.9.0", "pyproject.toml [dependency-groups] dev")


def test_choose_version_order_and_oldest(tmp_path: Path) -> None:
    root = _project(tmp_path, {"requirements.txt": "ruff==0.4.10\n"})
    assert choose_version("ruff", given="0.16.0", fallback="0.17.6", oldest="0.5.0", project=root, root=root) == (
        "0.16.0",
        "the job's input",
    )
    with pytest.raises(ValueError, match=r"ruff 0\.4\.10 \(pinned in requirements\.txt\) is older than 0\.5\.0"):
        choose_version("ruff", given="", fallback="0.17.6", oldest="0.5.0", project=root, root=root)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert choose_version("ruff", given="", fallback="0.17.6", oldest="0.5.0", project=empty, root=empty) == (
        "0.17.6",
        "the catalogue's default",
    )


def test_version_tuple() -> None:
    assert version_tuple("1.1.392.post0") == (1, 1, 392)
    assert version_tuple("0.15.20") > version_tuple("0.5.0")
    assert version_tuple("x") == ()
