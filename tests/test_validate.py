"""The validator accepts the catalogue's components and refuses each kind of mistake GitLab refuses."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.validate import (
    ROOT,
    Catalog,
    check_path,
    default_paths,
    include_rules,
    main,
    validate_path,
)

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
    assert any("late.needs: late job: undefined need: ghost" in p for p in problems)


def test_external_component_is_not_resolved_and_said_so(catalogue: Path) -> None:
    path = catalogue / ".gitlab-ci.yml"
    path.write_text("include:\n  - component: gitlab.com/components/opentofu/full-pipeline@2.0.0\n    inputs: {x: 1}\n")
    result = check_path(path)
    assert result.problems == []
    (line,) = result.unchecked
    assert line.startswith("not checked: ")
    assert "include[0] gitlab.com/components/opentofu/full-pipeline@2.0.0: another project's component" in line


# ---------------------------------------------------------------------------------------------------------------
# pipeline-level rules, on pipelines that include this catalogue's real components (tests/fixtures/pipelines)

PIPELINES = ROOT / "tests" / "fixtures" / "pipelines"
# One broken pipeline per rule -> the words its one problem line must hold (GitLab's wording where it has one).
BROKEN_PIPELINES = {
    "needs-matrix-variant.yml": [
        "deploy.needs: deploy job: undefined need: pytest: [3.13]",
        "(job `pytest` creates: pytest: [3.11], pytest: [3.12])",
    ],
    "needs-matrix-object.yml": ["deploy.needs: deploy job: undefined need: pytest: [3.13]"],
    "needs-unknown-job.yml": ["deploy.needs: deploy job: undefined need: rufff"],
    "needs-later-stage.yml": ["package.needs: package job: need ruff is not defined in current or prior stages"],
    "needs-input-later-stage.yml": ["ruff.needs: ruff job: need deploy is not defined in current or prior stages"],
    "needs-duplicated.yml": ["deploy.needs: deploy has the following needs duplicated: pytest: [3.11]"],
    "dependencies-unknown.yml": ["deploy.dependencies: deploy job: undefined dependency: version"],
    "stage-undefined.yml": ["ruff.stage: stage `lint` is not in the pipeline's stages (.pre, build, test, .post)"],
    "input-missing.yml": ["include[0] (version).inputs: missing mandatory input `output_dir`"],
    "extends-unknown.yml": ["deploy.extends: deploy: unknown key in `extends` (.deploy-base)"],
    "local-missing.yml": ["include[0]: local file `ci/not-there.yml` does not exist"],
    "whole-pipeline-needs.yml": [
        "smoke.needs: smoke job: undefined need: pytest: [3.13] (job `pytest` creates: pytest: [3.11], pytest: [3.12])"
    ],
}


def test_every_broken_pipeline_is_listed() -> None:
    assert {p.name for p in PIPELINES.glob("*.yml")} - {"valid.yml", "not-checked.yml"} == set(BROKEN_PIPELINES)


@pytest.mark.parametrize("name", sorted(BROKEN_PIPELINES))
def test_broken_pipeline_is_refused_with_a_clear_line(name: str) -> None:
    result = check_path(PIPELINES / name)
    assert len(result.problems) == 1, result.problems
    assert result.unchecked == []
    for words in BROKEN_PIPELINES[name]:
        assert words in result.problems[0], result.problems[0]


def test_valid_pipeline_passes_with_everything_checked() -> None:
    result = check_path(PIPELINES / "valid.yml")
    assert (result.problems, result.unchecked) == ([], [])


def test_what_cannot_be_checked_is_said_with_the_reason() -> None:
    result = check_path(PIPELINES / "not-checked.yml")
    assert result.problems == []
    assert [line.split(": ", 2)[2] for line in result.unchecked] == [
        "include[1] gitlab.com/components/opentofu/full-pipeline@2.0.0: another project's component "
        "(this catalogue is `python-ci/catalog`; --catalog-path sets it)",
        "include[2] (remote: https://example.com/ci/deploy.yml): not a file of this checkout",
        "deploy.needs: deploy job: undefined need: plan (it may be a job of an include not read)",
    ]


def test_catalog_path_selects_which_includes_are_checked(tmp_path: Path) -> None:
    text = (PIPELINES / "input-missing.yml").read_text().replace("python-ci/catalog", "platform/python-ci")
    path = tmp_path / ".gitlab-ci.yml"
    path.write_text(text)
    assert check_path(path).problems == []
    assert "another project's component (this catalogue is `python-ci/catalog`" in check_path(path).unchecked[0]
    (problem,) = check_path(path, Catalog(path="platform/python-ci")).problems
    assert "missing mandatory input `output_dir`" in problem


def test_self_include_in_a_project_without_components_is_not_checked(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    path = tmp_path / ".gitlab-ci.yml"
    path.write_text("include:\n  - component: $CI_SERVER_FQDN/$CI_PROJECT_PATH/ruff@$CI_COMMIT_SHA\n")
    result = check_path(path)
    assert result.problems == []
    assert "a component of this project itself, which has no templates/ here" in result.unchecked[0]


def test_local_includes_are_merged_and_their_components_checked(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "ci").mkdir()
    (tmp_path / "ci" / "lint.yml").write_text(
        "include:\n  - component: $CI_SERVER_FQDN/python-ci/catalog/ruff@1.0.0\n    inputs: {stge: test}\n"
    )
    path = tmp_path / ".gitlab-ci.yml"
    path.write_text("include:\n  - local: ci/lint.yml\ndeploy:\n  stage: deploy\n  needs: [ruff]\n  script: [x]\n")
    (problem,) = validate_path(path)
    assert "include[0] (ci/lint.yml) include[0] (ruff).inputs: unknown input `stge`" in problem
    path.write_text("include:\n  - local: ci/lint.yml\ndeploy:\n  stage: deploy\n  needs: [rufff]\n  script: [x]\n")
    (tmp_path / "ci" / "lint.yml").write_text("include:\n  - component: $CI_SERVER_FQDN/python-ci/catalog/ruff@1\n")
    (problem,) = validate_path(path)
    assert "deploy job: undefined need: rufff" in problem


def test_cli_prints_not_checked_lines_and_takes_the_catalog_path(tmp_path: Path) -> None:
    path = tmp_path / ".gitlab-ci.yml"
    path.write_text((PIPELINES / "input-missing.yml").read_text().replace("python-ci/catalog", "acme/ci"))
    done = subprocess.run(
        [sys.executable, "-m", "scripts.validate", str(path)], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0
    assert done.stdout.startswith("not checked: ")
    assert "1 file(s) checked, 0 problem(s), 1 not checked" in done.stderr
    done = subprocess.run(
        [sys.executable, "-m", "scripts.validate", "--catalog-path", "acme/ci", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "missing mandatory input `output_dir`" in done.stdout


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


# ---------------------------------------------------------------------------------------------------------------
# Python versions: any 3.N with N >= 11 (a new CPython needs no catalogue release), typos refused; array items of
# `python_versions` one by one, by the rule in the input's description (GitLab has no regex for arrays)

PY_COMPONENTS = ["ruff", "mypy", "pyright", "version"]


def _py_pipeline(tmp_path: Path, body: str) -> list[str]:
    path = tmp_path / ".gitlab-ci.yml"
    path.write_text("include:\n" + body)
    return validate_path(path)


@pytest.mark.parametrize("component", PY_COMPONENTS)
@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("3.11", True),
        ("3.15", True),
        ("3.27", True),
        ("3.10", False),
        ("3.9", False),
        ("3.1", False),
        ("3.x", False),
        ("31.2", False),
        ("3.12.1", False),
        ("", False),
    ],
)
def test_python_version_accepts_any_supported_cpython(
    tmp_path: Path, component: str, value: str, accepted: bool
) -> None:
    extra = "\n      output_dir: app" if component == "version" else ""
    problems = _py_pipeline(
        tmp_path,
        f"  - component: $CI_SERVER_FQDN/python-ci/catalog/{component}@1.0.0\n"
        f'    inputs:\n      python_version: "{value}"{extra}\n',
    )
    if accepted:
        assert problems == []
    else:
        (problem,) = problems
        assert f'`python_version` input: value "{value}" does not match the required regex' in problem


@pytest.mark.parametrize("component", ["pytest", "wheelhouse"])
def test_python_versions_items_are_checked_one_by_one(tmp_path: Path, component: str) -> None:
    include = f"  - component: $CI_SERVER_FQDN/python-ci/catalog/{component}@1.0.0\n    inputs:\n"
    assert _py_pipeline(tmp_path, include + '      python_versions: ["3.11", "3.14", "3.20"]\n') == []
    problems = _py_pipeline(tmp_path, include + '      python_versions: ["3.12", "3.x", "3.1"]\n')
    assert [p.split(": ", 2)[2] for p in problems] == [
        '`python_versions` input: value item 2 "3.x" does not match the per-item rule ^3\\.(1[1-9]|[2-9][0-9])$',
        '`python_versions` input: value item 3 "3.1" does not match the per-item rule ^3\\.(1[1-9]|[2-9][0-9])$',
    ]


def test_a_bad_per_item_rule_is_a_component_problem(tmp_path: Path) -> None:
    component = tmp_path / "c.yml"
    component.write_text(
        "spec:\n  inputs:\n    versions:\n      description: Versions. Each item must match `^3\\.(?=1)`.\n"
        '      type: array\n      default: ["3.12"]\n---\njob:\n  script: [echo]\n'
        "  parallel:\n    matrix:\n      - V: $[[ inputs.versions ]]\n"
    )
    (problem,) = validate_path(component)
    assert "spec.inputs.versions.description: lookahead" in problem


def test_a_local_include_behind_rules_is_checked_as_if_included(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "ci").mkdir()
    (tmp_path / "ci" / "release.yml").write_text("publish:\n  stage: deploy\n  needs: [wheel]\n  script: [x]\n")
    path = tmp_path / ".gitlab-ci.yml"
    path.write_text("include:\n  - local: ci/release.yml\n    rules:\n      - if: $CI_COMMIT_TAG\n")
    result = check_path(path)
    assert [p.split(": ", 1)[1] for p in result.problems] == ["publish.needs: publish job: undefined need: wheel"]
    (line,) = result.unchecked
    assert "include[0] (local: ci/release.yml): checked as if its `rules` included it" in line


@pytest.mark.parametrize(
    ("rules", "included"),
    [
        (None, True),
        ([{"if": '"true" == "true"'}], True),
        ([{"if": '"false" == "true"'}], False),
        ([{"if": "'a' != 'b'", "when": "never"}], False),
        ([{"if": '"x" == "y"'}, {"when": "always"}], True),
        ([{"if": "$CI_COMMIT_TAG"}], None),
        ([{"exists": ["Dockerfile"]}], None),
    ],
)
def test_include_rules_that_inputs_decide(rules: object, included: bool | None) -> None:
    assert include_rules(rules) is included


def test_a_part_switched_off_adds_no_job(tmp_path: Path) -> None:
    text = (PIPELINES / "whole-pipeline-needs.yml").read_text().replace('"pytest: [3.13]"', "image-build")
    path = tmp_path / ".gitlab-ci.yml"
    path.write_text(text)
    assert [p.split(": ", 1)[1] for p in validate_path(path)] == ["smoke.needs: smoke job: undefined need: image-build"]
    path.write_text(text.replace("      image: false\n", ""))
    assert validate_path(path) == []


def test_a_job_override_merges_into_the_included_job_as_gitlab_deep_merges(tmp_path: Path) -> None:
    """A consumer keys a workspace member's cache on the workspace lock with one nested key (README, uv
    workspaces): GitLab merges it into the component's job, which keeps its matrix, script and the rest, so a job
    that needs one of its variants is still valid."""
    include = "  - component: $CI_SERVER_FQDN/python-ci/catalog/pytest@1.0.0\n    inputs: {project_dir: svc}\n"
    report = (
        "report:\n  stage: deploy\n  script: [x]\n"
        '  needs: [{job: pytest, parallel: {matrix: [{PYTHON_VERSION: "3.12"}]}}]\n'
    )
    override = "pytest:\n  cache:\n    key:\n      files: [uv.lock]\n"
    assert _py_pipeline(tmp_path, include + report + override) == []
    (problem,) = _py_pipeline(tmp_path, include + report.replace("3.12", "3.99") + override)
    assert "report" in problem
