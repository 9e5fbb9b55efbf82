"""Coverage GitLab can place: real coverage.py reports of every layout, checked with GitLab's documented Cobertura
path matching (GitLab docs, "Cobertura coverage report" > path correction), before and after the job's rewrite."""

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from python_ci.cobertura import rewrite
from tests.python_ci.conftest import write

PROJECT_PATH = "group/project"  # the GitLab project's full path; runners check out to /builds/<full path>


def gitlab_placed(report: Path, project_path: str, worktree: set[str]) -> dict[str, str | None]:
    """GitLab's Cobertura path matching: {class filename: the repository file it resolves to, or None}.

    For each `<source>` holding `/<project full path>/` (or ending with it), the part after it joined with the
    class's `filename` is tried against the repository's files, first match wins; without a match the `filename`
    itself must be a path from the repository's root."""
    coverage = ET.parse(report).getroot()
    marker = f"/{project_path}"
    prefixes: list[str] = []
    for element in coverage.iter("source"):
        text = (element.text or "").strip().rstrip("/")
        if marker + "/" in text + "/":
            prefixes.append(text.split(marker, 1)[1].strip("/"))
    placed: dict[str, str | None] = {}
    for element in coverage.iter("class"):
        name = element.get("filename", "")
        candidates = [f"{prefix}/{name}" if prefix else name for prefix in prefixes] + [name]
        placed[name] = next((c for c in candidates if c in worktree), None)
    return placed


def _coverage_xml(root: Path, project: str, layout: str, relative_files: bool) -> Path:
    """Run coverage.py (the dev tools' own) the way pytest-cov does in the job: in the project's folder, measuring
    the package, writing Cobertura XML."""
    base = root / project
    package = "src/pkga" if layout == "src" else "pkga"
    config = f'[tool.coverage.run]\nsource = ["{"src" if layout == "src" else "pkga"}"]\n'
    config += f"relative_files = {'true' if relative_files else 'false'}\n"
    write(
        base,
        {
            "pyproject.toml": config,
            f"{package}/__init__.py": "from pkga.calc import add\n",
            f"{package}/calc.py": "def add(a: int, b: int) -> int:\n    return a + b\n",
            "run.py": "from pkga import add\n\nassert add(1, 2) == 3\n",
        },
    )
    env_path = str(base / "src") if layout == "src" else str(base)
    env = {"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin", "COVERAGE_FILE": str(base / ".coverage")}
    subprocess.run([sys.executable, "-m", "coverage", "run", "run.py"], cwd=base, env=env, check=True)
    report = root / "ci-reports" / "coverage.xml"
    report.parent.mkdir(exist_ok=True)
    subprocess.run([sys.executable, "-m", "coverage", "xml", "-o", str(report)], cwd=base, env=env, check=True)
    return report


def _worktree(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*.py")}


@pytest.mark.parametrize("relative_files", [True, False], ids=["relative_files", "absolute"])
@pytest.mark.parametrize("layout", ["src", "flat"])
@pytest.mark.parametrize("project", [".", "svc"], ids=["root", "subfolder"])
def test_every_layout_is_placed_after_the_rewrite(
    tmp_path: Path, project: str, layout: str, relative_files: bool
) -> None:
    root = tmp_path / "builds" / PROJECT_PATH
    report = _coverage_xml(root, project, layout, relative_files)
    expected = {f"{project}/{'src/' if layout == 'src' else ''}pkga/{name}".removeprefix("./") for name in
                ("__init__.py", "calc.py")}  # fmt: skip
    before = gitlab_placed(report, PROJECT_PATH, _worktree(root))
    assert rewrite(report, root, root / project) == 2
    after = gitlab_placed(report, PROJECT_PATH, _worktree(root))
    assert set(after.values()) == expected, (before, after)
    assert [s.text for s in ET.parse(report).getroot().iter("source")] == [str(root)]
    if relative_files and (layout == "src" or project != "."):
        # The case the rewrite exists for: GitLab could place none of these files from coverage.py's own report.
        assert set(before.values()) <= {None}


def test_a_file_found_nowhere_keeps_its_name(tmp_path: Path) -> None:
    report = tmp_path / "coverage.xml"
    report.write_text('<coverage><packages><package><classes><class filename="gone.py"/></classes></package>'
                      "</packages></coverage>")  # fmt: skip
    assert rewrite(report, tmp_path, tmp_path) == 0
    root = ET.parse(report).getroot()
    assert [c.get("filename") for c in root.iter("class")] == ["gone.py"]
    assert [s.text for s in root.iter("source")] == [str(tmp_path)]
