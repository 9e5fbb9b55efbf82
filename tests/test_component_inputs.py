"""Bad inputs are refused before any job runs, and hostile text never executes.

Three layers, each tested:
1. every free-text input of every component has a regex that refuses shell injection (`;`, `$(...)`, backticks,
   newlines), checked exhaustively with the very check gitlab-ci-local applies (`new RegExp(regex).test(value)`);
2. real gitlab-ci-local runs refuse wrong types, values outside `options` and regex mismatches at configuration time;
3. with the regexes stripped, the same payloads reach the jobs and stay inert: inputs reach scripts only as
   variables, so the marker files are never created."""

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.engine import ROOT, engine_env, include, make_repo, run_pipeline, shared_cache_env

TEMPLATES = sorted((ROOT / "templates").glob("*.yml"))


def _spec(path: Path) -> dict[str, dict[str, object]]:
    header = next(yaml.safe_load_all(path.read_text()))
    inputs: dict[str, dict[str, object]] = header["spec"]["inputs"]
    return inputs


def _payloads(marker: Path) -> list[str]:
    return [
        f"x; touch {marker}",
        f"$(touch {marker})",
        f"`touch {marker}`",
        f"x\ntouch {marker}",
        f"x && touch {marker}",
        f"x | touch {marker}",
        f'x" ; touch {marker} ; "',
    ]


def _free_text(spec: dict[str, dict[str, object]]) -> list[str]:
    return [name for name, item in spec.items() if item.get("type", "string") == "string" and "options" not in item]


def test_every_free_text_input_has_a_regex() -> None:
    missing = [(p.stem, n) for p in TEMPLATES for n in _free_text(_spec(p)) if "regex" not in _spec(p)[n]]
    assert missing == []


def test_regexes_refuse_every_injection_payload(tmp_path: Path) -> None:
    cases = [
        {"component": p.stem, "input": name, "regex": _spec(p)[name]["regex"], "value": value}
        for p in TEMPLATES
        for name in _free_text(_spec(p))
        for value in _payloads(tmp_path / "marker")
    ]
    assert len(cases) >= 5 * 7 * 7
    # The check gitlab-ci-local itself makes (GitLab uses RE2, which agrees on these simple patterns).
    script = (
        "const cases = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "console.log(JSON.stringify(cases.filter(c => new RegExp(c.regex).test(String(c.value)))));"
    )
    done = subprocess.run(
        ["node", "-e", script], input=json.dumps(cases), capture_output=True, text=True, check=True, env=engine_env()
    )
    accepted = json.loads(done.stdout)
    assert accepted == []


@pytest.mark.parametrize(
    ("component", "inputs", "message"),
    [
        ("ruff", {"check_args": "--select E; touch {marker}"}, "provided value is not a array"),
        ("ruff", {"ruff_version": "0.4.10"}, "does not match required regex"),
        ("mypy", {"mypy_args": "$(touch {marker})"}, "does not match required regex"),
        ("pyright", {"project_dir": "../../etc"}, "does not match required regex"),
        ("pytest", {"pytest_args": "-k `touch {marker}`"}, "does not match required regex"),
        ("version", {"output_dir": "pkg", "service_name": "svc\ntouch {marker}"}, "does not match required regex"),
        ("ruff", {"python_version": "2.7"}, "not in the list of allowed options"),
        ("pytest", {"python_versions": "3.12"}, "provided value is not a array"),
        ("pytest", {"coverage_threshold": "eighty"}, "provided value is not a number"),
        ("mypy", {"allow_failure": "yes"}, "provided value is not a boolean"),
        ("version", {}, "output_dir"),
    ],
)
def test_bad_input_is_refused_before_any_job(
    tmp_path: Path, component: str, inputs: dict[str, object], message: str
) -> None:
    marker = tmp_path / "marker"
    values = {k: v.format(marker=marker) if isinstance(v, str) else v for k, v in inputs.items()}
    repo = make_repo(tmp_path / "repo", ci_yaml=include([(component, values)]))
    run = run_pipeline(repo, "--json-schema-validation=false")
    assert run.returncode != 0
    assert message in run.output, run.output
    assert run.statuses == {}
    assert not marker.exists()


def _without_regexes(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("regex:")) + "\n"


def test_payloads_that_reach_a_job_stay_inert(tmp_path: Path) -> None:
    """Even past the regexes (stripped here), hostile values are data: they reach the scripts as variables."""
    marker = tmp_path / "marker"
    payload = f"x; touch {marker}1 $(touch {marker}2) `touch {marker}3` && touch {marker}4 | touch {marker}5"
    files = {f"templates/{p.name}": _without_regexes(p.read_text()) for p in TEMPLATES}
    files |= {"app/pkg/__init__.py": "", "app/pkg/mod.py": "VALUE: int = 1\n"}
    ci = include(
        [
            ("ruff", {"project_dir": "app", "check_args": [payload, "--select", payload]}),
            (
                "mypy",
                {"project_dir": "app", "mypy_args": payload, "requirements": payload, "exclude_packages": payload},
            ),
            ("version", {"project_dir": "app", "output_dir": "pkg", "service_name": payload}),
        ]
    )
    repo = make_repo(tmp_path / "repo", ci_yaml=ci, files=files, with_templates=False)
    run = run_pipeline(repo, env=shared_cache_env())
    # The jobs ran (ruff and mypy fail on the nonsense arguments, the version job records the name verbatim) ...
    assert set(run.statuses) == {"ruff", "mypy", "version"}, run.output
    info = json.loads((run.artifacts("version") / "app" / "pkg" / "_build_info.json").read_text())
    assert info["service"] == payload
    # ... and nothing was ever executed from the values.
    assert sorted(tmp_path.glob("marker*")) == []
