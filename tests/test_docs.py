"""The README's component sections are generated from the specs, and a stale README is caught."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.docs import END, START, DocsError, input_table, render_readme
from scripts.validate import ROOT, Catalog, check_path, load_document, validate_path

VALID = ROOT / "tests" / "fixtures" / "components" / "valid.yml"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A catalogue with one component (`probe`), its page, and a README with the markers."""
    (tmp_path / "templates").mkdir()
    shutil.copy(VALID, tmp_path / "templates" / "probe.yml")
    (tmp_path / "docs" / "components").mkdir(parents=True)
    (tmp_path / "docs" / "components" / "probe.md").write_text(
        "# probe\n\nPrints a word.\n\n```yaml\n# not a heading\n```\n\n## Inputs\n\n<!-- inputs: probe -->\n"
    )
    (tmp_path / "README.md").write_text(f"# Catalogue\n\n## Components\n\n{START}\n{END}\n\n## After\n")
    return tmp_path


def _docs(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "scripts.docs", "--root", str(root), *args]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)


def test_table_lists_every_input_with_type_default_and_allowed_values() -> None:
    table = input_table(load_document(VALID)).splitlines()
    assert table[0] == "| Input | Type | Default | Description | Allowed values |"
    rows = {line.split(" | ")[0].strip("| `"): line for line in table[2:]}
    assert list(rows) == [
        "job_name", "stage", "needs", "rules", "allow_failure", "level", "retries", "versions", "word",
    ]  # fmt: skip
    assert rows["job_name"] == ("| `job_name` | string | `probe` | Name of the job. | regex `^[a-z][a-z0-9-]*$` |")
    assert rows["level"] == "| `level` | string | `quiet` | How loud the probe is. | `quiet`, `loud` |"
    assert rows["allow_failure"].startswith("| `allow_failure` | boolean | `false` |")
    assert rows["versions"].startswith('| `versions` | array | `["3.11", "3.12"]` |')
    assert rows["word"].startswith("| `word` | string | **required** |")
    assert "$CI_MERGE_REQUEST_IID" in rows["rules"]


def test_generate_then_check_round_trip(project: Path) -> None:
    assert _docs(project, "--check").returncode == 1  # markers still empty
    assert _docs(project).returncode == 0
    readme = (project / "README.md").read_text()
    assert "### probe\n" in readme  # the page's top heading became a sub-section
    assert "#### Inputs\n" in readme
    assert "# not a heading\n" in readme  # code blocks keep their lines
    assert "<!-- inputs: probe -->\n\n| Input | Type |" in readme
    assert readme.endswith(f"{END}\n\n## After\n")
    assert _docs(project, "--check").returncode == 0
    assert _docs(project).returncode == 0
    assert (project / "README.md").read_text() == readme  # idempotent


def test_check_fails_when_a_spec_changes(project: Path) -> None:
    _docs(project)
    template = project / "templates" / "probe.yml"
    template.write_text(template.read_text().replace("default: quiet", "default: loud"))
    done = _docs(project, "--check")
    assert done.returncode == 1
    assert "README.md is stale" in done.stderr
    assert "+| `level` | string | `loud` |" in done.stdout


def test_component_without_page_is_an_error(project: Path) -> None:
    shutil.copy(VALID, project / "templates" / "other.yml")
    with pytest.raises(DocsError, match=r"no docs/components/<name>\.md for: other"):
        render_readme(project)


def test_page_without_marker_or_with_unknown_marker_is_an_error(project: Path) -> None:
    page = project / "docs" / "components" / "probe.md"
    page.write_text("# probe\n")
    with pytest.raises(DocsError, match="no `<!-- inputs: probe -->` marker"):
        render_readme(project)
    page.write_text("# probe\n<!-- inputs: prob -->\n")
    with pytest.raises(DocsError, match="marker names `prob`, no such component"):
        render_readme(project)


def test_readme_without_markers_is_an_error(project: Path) -> None:
    (project / "README.md").write_text("# Catalogue\n")
    done = _docs(project, "--check")
    assert done.returncode == 1
    assert "README.md needs the lines" in done.stderr


def test_repository_readme_is_current() -> None:
    done = _docs(ROOT, "--check")
    assert done.returncode == 0, done.stdout + done.stderr


def test_readme_quick_start_is_a_valid_pipeline(tmp_path: Path) -> None:
    """The README's quick start, checked by the validator against this repository's components."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1]
    block = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    assert "python-ci/catalog/" in block
    pipeline = tmp_path / ".gitlab-ci.yml"
    pipeline.write_text(block)
    assert validate_path(pipeline) == []


def test_every_readme_example_that_includes_the_catalogue_is_valid(tmp_path: Path) -> None:
    """Each YAML example including this catalogue (as `python-ci/catalog` or `platform/python-ci`) is a pipeline
    the validator accepts with every include checked. Examples written with a `gitlab.com/<group>/...`
    placeholder are not resolvable and are left out."""
    readme = (ROOT / "README.md").read_text()
    found = re.compile(r"component: \$CI_SERVER_FQDN/(python-ci/catalog|platform/python-ci)/")
    checked = 0
    for index, block in enumerate(re.findall(r"```yaml\n(.*?)```", readme, re.DOTALL)):
        match = found.search(block)
        if match is None or "<group>" in block:
            continue
        path = tmp_path / f"example-{index}.yml"
        path.write_text(block)
        result = check_path(path, Catalog(path=match.group(1)))
        assert (result.problems, result.unchecked) == ([], []), block
        checked += 1
    assert checked >= 10
