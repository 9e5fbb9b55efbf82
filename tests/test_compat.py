"""The compatibility rule for inputs: each fixture pair (tests/fixtures/compat/base.yml -> <case>.yml) needs the
version step named here; the CLI compares a real git tag's specs with the working tree and gates the tag."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.compat import Level, compare, compare_inputs, required, specs_in, step
from scripts.validate import ROOT, load_document, validate_path
from tests.engine import git

FIXTURES = ROOT / "tests" / "fixtures" / "compat"

# case -> the changes it must report: (level, input, words of the message)
CASES: dict[str, list[tuple[Level, str, str]]] = {
    "input-removed": [(Level.MAJOR, "level", "input removed")],
    "input-renamed": [
        (Level.MAJOR, "level", "input removed (renamed to `verbosity`?)"),
        (Level.MINOR, "verbosity", "optional input added"),
    ],
    "default-changed": [(Level.MAJOR, "stage", 'default "test" -> "build"')],
    "default-removed": [(Level.MAJOR, "stage", "default removed: the input is now mandatory")],
    "default-added": [(Level.MINOR, "word", 'default "hello" added: now optional')],
    "type-changed": [(Level.MAJOR, "versions", "type array -> string")],
    "options-narrowed": [(Level.MAJOR, "level", 'options removed: ["loud"]')],
    "options-widened": [(Level.MINOR, "level", 'options added: ["silent"]')],
    "options-to-regex-refusing": [(Level.MAJOR, "python_version", 'a regex that refuses ["3.11"]')],
    "options-to-regex-accepting": [(Level.MINOR, "python_version", "a regex that accepts every old option")],
    "regex-changed": [(Level.MAJOR, "word", "regex changed: ^[a-z]+$ -> ^[a-z-]+$")],
    "regex-dropped": [(Level.MINOR, "word", "regex dropped")],
    "item-rule-changed": [(Level.MAJOR, "versions", r"per-item rule changed: ^3\.1[1-9]$ -> ^3\.1[2-9]$")],
    "optional-input-added": [(Level.MINOR, "extra", "optional input added")],
    "mandatory-input-added": [(Level.MAJOR, "token", "mandatory input added (no default)")],
    "description-changed": [(Level.PATCH, "stage", "description changed")],
}


def test_every_fixture_is_listed_and_a_valid_component() -> None:
    assert {p.stem for p in FIXTURES.glob("*.yml")} - {"base"} == set(CASES)
    for path in FIXTURES.glob("*.yml"):
        assert validate_path(path) == [], path  # the pairs are real components, not sketches


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_change_needs_its_step(case: str) -> None:
    base = load_document(FIXTURES / "base.yml").inputs
    head = load_document(FIXTURES / f"{case}.yml").inputs
    changes = compare_inputs("probe", base, head)
    assert [(c.level, c.where) for c in changes] == [(level, f"probe.{name}") for level, name, _ in CASES[case]]
    for change, (_, _, words) in zip(changes, CASES[case], strict=True):
        assert words in change.what, change
    assert required(changes) == max(level for level, _, _ in CASES[case])


def test_components_added_and_removed() -> None:
    inputs = load_document(FIXTURES / "base.yml").inputs
    changes = compare({"probe": inputs, "old": {}}, {"probe": inputs, "new": {}})
    assert [str(c) for c in changes] == ["major: old: component removed", "minor: new: component added"]
    assert compare(specs_in(ROOT), specs_in(ROOT)) == []


@pytest.mark.parametrize(
    ("base", "tag", "level"),
    [
        ("1.2.3", "2.0.0", Level.MAJOR),
        ("1.2.3", "1.3.0", Level.MINOR),
        ("1.2.3", "1.2.4", Level.PATCH),
        ("1.2.3", "2.0.0-rc.1", Level.MAJOR),
        ("0.3.1", "0.4.0", Level.MAJOR),  # semver: before 1.0.0 a minor step may break
    ],
)
def test_step_between_releases(base: str, tag: str, level: Level) -> None:
    assert step(base, tag) == level


def _compat(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "scripts.compat", "--repo", str(repo), *args]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False, env={"PATH": "/usr/bin:/bin"})


def test_cli_gates_a_tag_against_the_previous_release(tmp_path: Path) -> None:
    repo = tmp_path / "catalog"
    shutil.copytree(ROOT / "templates", repo / "templates")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "1.0.0")
    git(repo, "tag", "1.0.0")
    assert _compat(repo, "--base", "auto").stdout.startswith("compat: no earlier release tag")  # HEAD is 1.0.0
    # The next release makes the version component's `service_name` mandatory: a breaking change.
    template = repo / "templates" / "version.yml"
    text = template.read_text()
    mandatory = '      default: ""\n      regex: ^[A-Za-z0-9._-]{0,100}$'
    assert mandatory in text
    template.write_text(text.replace(mandatory, "      regex: ^[A-Za-z0-9._-]{0,100}$"))
    git(repo, "commit", "-q", "-am", "service_name mandatory")
    done = _compat(repo, "--base", "auto")
    assert done.returncode == 0, done.stderr  # a branch pipeline: reported, not failed
    assert "compat: major: version.service_name: default removed: the input is now mandatory" in done.stdout
    assert "compat: against 1.0.0: 1 change(s); the next release needs a major step" in done.stdout
    done = _compat(repo, "--base", "auto", "--tag", "1.1.0")
    assert done.returncode == 1
    assert "1.1.0 is a minor step from 1.0.0; the changes need a major step" in done.stderr
    git(repo, "tag", "2.0.0")
    done = _compat(repo, "--base", "auto", "--tag", "2.0.0")  # auto skips the tag at HEAD itself
    assert done.returncode == 0, done.stderr
    assert "2.0.0 is a major step from 1.0.0: enough" in done.stdout
    assert _compat(repo, "--base", "9.9.9").returncode == 2
