"""The validator accepts the catalogue's components and refuses each kind of mistake GitLab refuses."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.validate import ROOT, default_paths, main, validate_path

FIXTURES = ROOT / "tests" / "fixtures" / "components"

# One broken fixture per rule -> the words its one problem line must hold.
BROKEN = {
    "schema-header.yml": ["spec:", "'descripton' was unexpected"],
    "input-key-typo.yml": ["spec.inputs.stage:", "unknown key `defualt`", "did you mean `default`"],
    "default-type.yml": ["spec.inputs.allow_failure.default:", '"yes" is not a boolean'],
    "default-options.yml": ["spec.inputs.level.default:", '"medium" is not one of the allowed options'],
    "default-regex.yml": ["spec.inputs.word.default:", "does not match the required regex"],
    "regex-re2.yml": ["spec.inputs.word.regex:", "lookahead", "not supported by RE2"],
    "unknown-input.yml": ["body.job.stage:", "unknown input `stge`", "did you mean `stage`"],
    "unknown-function.yml": ["body.job.script[0]:", "unknown function `upcase`"],
    "body-schema-defaults.yml": ["body.job (with defaults):", "'scrpt' was unexpected"],
    "body-schema-sample.yml": ['body.job.when (with when="nightly"):', "'nightly' is not one of"],
    "global-keyword.yml": ["body.variables:", "global keyword `variables`"],
    "no-description.yml": ["spec.inputs.stage:", "no `description`"],
    "empty-inputs.yml": ["spec.inputs:", "makes the catalog release fail"],
}


def test_every_broken_fixture_is_listed() -> None:
    on_disk = {p.name for p in FIXTURES.glob("*.yml")} - {"valid.yml", "no-header.yml"}
    assert on_disk == set(BROKEN)


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_component_is_refused_with_a_clear_line(name: str) -> None:
    problems = validate_path(FIXTURES / name)
    assert len(problems) == 1, problems
    line = problems[0]
    assert line.startswith(f"tests/fixtures/components/{name}: ") or f"/{name}: " in line
    for words in BROKEN[name]:
        assert words in line, line


def test_valid_fixture_passes() -> None:
    assert validate_path(FIXTURES / "valid.yml") == []


def test_catalogue_templates_and_pipeline_pass() -> None:
    paths = default_paths()
    assert paths, "no templates/ and no .gitlab-ci.yml found"
    problems = [line for path in paths for line in validate_path(path)]
    assert problems == []


def test_component_without_header_is_refused_under_templates(tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    target = tmp_path / "templates" / "no-header.yml"
    shutil.copy(FIXTURES / "no-header.yml", target)
    problems = validate_path(target)
    assert len(problems) == 1
    assert "header: a component needs a `spec:` header" in problems[0]


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("spec:\n  inputs:\n---\njob: [unclosed\n")
    (problem,) = validate_path(bad)
    assert ": line 5: invalid YAML" in problem


@pytest.mark.parametrize(
    ("regex", "refused"),
    [
        (r"^[a-z]+$", None),
        (r"^\d+\.\d+$", None),
        (r"^a(?=b)", "lookahead"),
        (r"^(?<!x)a", "lookbehind"),
        (r"(a)\1", "backreference"),
        (r"(?P<w>a)(?P=w)", "backreference"),
        (r"a++", "possessive"),
        (r"(?>a)", "atomic"),
        (r"\(?=literal\)", None),
        (r"[(?=]", None),
        (r"a\Z", "\\Z"),
    ],
)
def test_re2_constructs(tmp_path: Path, regex: str, refused: str | None) -> None:
    component = tmp_path / "c.yml"
    component.write_text(
        "spec:\n  inputs:\n    word:\n      description: A word.\n"
        f"      regex: '{regex}'\n---\njob:\n  script:\n    - echo \"$[[ inputs.word ]]\"\n"
    )
    problems = [p for p in validate_path(component) if ".regex:" in p]
    if refused is None:
        assert problems == []
    else:
        assert len(problems) == 1
        assert refused in problems[0]


# ---------------------------------------------------------------------------------------------------------------
# consumer pipeline files


@pytest.fixture
def catalogue(tmp_path: Path) -> Path:
    """A project holding one component (the valid fixture) as `templates/probe.yml`."""
    (tmp_path / "templates").mkdir()
    shutil.copy(FIXTURES / "valid.yml", tmp_path / "templates" / "probe.yml")
    return tmp_path


def _pipeline(catalogue: Path, text: str) -> list[str]:
    path = catalogue / ".gitlab-ci.yml"
    path.write_text(text)
    return validate_path(path)


INCLUDE = "include:\n  - component: $CI_SERVER_FQDN/$CI_PROJECT_PATH/probe@$CI_COMMIT_SHA\n"


def test_consumer_with_good_inputs_passes(catalogue: Path) -> None:
    text = INCLUDE + "    inputs:\n      word: hello\n      stage: build\nafter:\n  needs: [probe]\n  script: [echo]\n"
    assert _pipeline(catalogue, text) == []


def test_consumer_unknown_input_is_refused(catalogue: Path) -> None:
    problems = _pipeline(catalogue, INCLUDE + "    inputs:\n      word: hello\n      stge: build\n")
    assert len(problems) == 1
    assert "include[0] (probe).inputs: unknown input `stge` (did you mean `stage`?)" in problems[0]


def test_consumer_missing_mandatory_input_is_refused(catalogue: Path) -> None:
    problems = _pipeline(catalogue, INCLUDE + "    inputs:\n      stage: build\n")
    assert len(problems) == 1
    assert "include[0] (probe).inputs: missing mandatory input `word`" in problems[0]


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ("word: hello\n      allow_failure: 'no'", '`allow_failure` input: value "no" is not a boolean'),
        ("word: hello\n      level: medium", '`level` input: value "medium" is not one of the allowed options'),
        ("word: 'a; touch /tmp/x'", "does not match the required regex ^[a-z]+$"),
        ("word: hello\n      retries: 5", "`retries` input: value 5 is not one of the allowed options"),
    ],
)
def test_consumer_bad_values_are_refused(catalogue: Path, inputs: str, message: str) -> None:
    problems = _pipeline(catalogue, INCLUDE + f"    inputs:\n      {inputs}\n")
    assert len(problems) == 1, problems
    assert message in problems[0]


def test_consumer_rendered_component_is_schema_checked(catalogue: Path) -> None:
    # `needs` takes an array; an array of numbers renders to a job GitLab's schema refuses.
    problems = _pipeline(catalogue, INCLUDE + "    inputs:\n      word: hello\n      needs: [1]\n")
    assert len(problems) == 1
    assert "include[0] (probe): probe.needs.0:" in problems[0]


def test_consumer_missing_component_and_unknown_stage_and_needs(catalogue: Path) -> None:
    missing = "include:\n  - component: $CI_SERVER_FQDN/$CI_PROJECT_PATH/nothere@1.0.0\n"
    assert "no component `nothere`" in _pipeline(catalogue, missing)[0]
    text = INCLUDE + "    inputs:\n      word: hello\nlate:\n  stage: lint\n  needs: [ghost]\n  script: [echo]\n"
    problems = _pipeline(catalogue, text)
    assert any("late.stage: stage `lint` is not in the pipeline's stages" in p for p in problems)
    assert any("late.needs: needs `ghost`, which is not a job of this pipeline" in p for p in problems)


def test_external_component_is_not_resolved(catalogue: Path) -> None:
    text = "include:\n  - component: gitlab.com/components/opentofu/full-pipeline@2.0.0\n    inputs: {x: 1}\n"
    assert _pipeline(catalogue, text) == []


def test_cli_prints_one_line_per_problem_and_exits_1() -> None:
    names = ["input-key-typo.yml", "unknown-input.yml", "valid.yml"]
    done = subprocess.run(
        [sys.executable, "-m", "scripts.validate", *(f"tests/fixtures/components/{n}" for n in names)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("tests/fixtures/components/input-key-typo.yml: spec.inputs.stage: unknown key")
    assert lines[1].startswith("tests/fixtures/components/unknown-input.yml: body.job.stage: unknown input")


def test_main_exits_0_on_valid_files(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(FIXTURES / "valid.yml")]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "1 file(s) checked, 0 problem(s)" in captured.err


def test_null_default_means_optional(tmp_path: Path) -> None:
    component = tmp_path / "c.yml"
    component.write_text(
        "spec:\n  inputs:\n    tag:\n      description: Optional.\n      default: null\n"
        '---\njob:\n  script:\n    - echo "tag=$[[ inputs.tag ]]"\n'
    )
    assert validate_path(component) == []
