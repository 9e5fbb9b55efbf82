"""ci-lint: which includes name the catalogue, and which release a component's `@<ref>` resolves to."""

from pathlib import Path

import pytest

from python_ci.ci_lint import included_refs, main, resolve
from python_ci.job import JobError
from tests.catalog_release import HOST, publish

CATALOG = "platform/python-ci"
TAGS = ["1.0.0", "1.2.0", "1.10.1", "1.10.0", "2.0.0-rc.1", "0.9.0", "feature-x"]


@pytest.mark.parametrize(
    ("ref", "resolved"),
    [
        ("1.2.0", "1.2.0"),
        ("1", "1.10.1"),  # numeric order, not text order
        ("1.10", "1.10.1"),
        ("0", "0.9.0"),
        ("~latest", "1.10.1"),  # the pre-release 2.0.0-rc.1 is never picked
        ("2.0.0-rc.1", "2.0.0-rc.1"),  # named exactly, it is
        ("0123456789abcdef0123456789abcdef01234567", "0123456789abcdef0123456789abcdef01234567"),
        ("main", "main"),
    ],
)
def test_resolve_like_gitlab(ref: str, resolved: str) -> None:
    assert resolve(ref, TAGS) == resolved


def test_a_version_with_no_release_is_refused() -> None:
    with pytest.raises(JobError, match=r"no release matching @3 \(releases: 0.9.0, 1.0.0, 1.2.0, 1.10.0, 1.10.1\)"):
        resolve("3", TAGS)


def test_included_refs_reads_only_the_catalogue() -> None:
    text = (
        "include:\n"
        "  - component: $CI_SERVER_FQDN/platform/python-ci/ruff@1.2.0\n"
        '  - component: "gitlab.example.com/platform/python-ci/ci-lint@1.2.0"  # lint\n'
        "  - component: $CI_SERVER_FQDN/platform/python-ci-extra/ruff@9.9.9\n"
        "  - component: gitlab.com/components/opentofu/full-pipeline@2.0.0\n"
    )
    assert included_refs(text, "platform/python-ci") == ["1.2.0", "1.2.0"]


def test_several_versions_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / ".gitlab-ci.yml").write_text(
        "include:\n  - component: $CI_SERVER_FQDN/p/python-ci/ruff@1.2.0\n"
        "  - component: $CI_SERVER_FQDN/p/python-ci/mypy@1.3.0\n"
    )
    monkeypatch.setenv("PYCI_ROOT", str(tmp_path))
    monkeypatch.setenv("PYCI_CATALOG_PATH", "p/python-ci")
    with pytest.raises(JobError, match=r"name several versions \(@1.2.0 in .gitlab-ci.yml; @1.3.0 in .gitlab-ci.yml\)"):
        main([])
    monkeypatch.setenv("PYCI_CATALOG_PATH", "other/catalog")
    with pytest.raises(JobError, match=r"no include of other/catalog in \.gitlab-ci\.yml: is catalog_path right\?"):
        main([])
    assert capsys.readouterr().err == ""


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """This checkout released as platform/python-ci 1.0.0 and 1.1.0 in a bare repository; the git settings that
    send the job's https clone there."""
    return publish(tmp_path_factory.mktemp("catalog"), CATALOG, ["1.0.0", "1.1.0"])


@pytest.mark.parametrize(
    ("python_input", "code", "verdict"),
    [("python_version", 0, "valid for platform/python-ci@1.1"), ("pyhton_version", 1, "refused by the validator")],
)
def test_the_job_lints_with_the_validator_of_the_included_release(
    checkout: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    published: dict[str, str],
    python_input: str,
    code: int,
    verdict: str,
) -> None:
    """In process: the job clones the catalogue over https (sent to the bare copy), resolves @1.1 to 1.1.0, installs
    that release's validator and runs it on the consumer's file; a typo'd input fails the job, and the validator's
    output lands in ci-reports/ci-lint.txt either way."""
    (checkout / ".gitlab-ci.yml").write_text(
        f"include:\n  - component: $CI_SERVER_FQDN/{CATALOG}/ruff@1.1\n    inputs:\n      {python_input}: '3.12'\n"
    )
    for name, value in {**published, "PYCI_CATALOG_PATH": CATALOG, "CI_SERVER_URL": f"https://{HOST}"}.items():
        monkeypatch.setenv(name, value)
    assert main([]) == code
    err = capsys.readouterr().err
    assert "catalogue @1.1 -> 1.1.0 (" in err
    assert f".gitlab-ci.yml: {verdict}" in err
    report = (checkout / "ci-reports" / "ci-lint.txt").read_text()
    assert ("unknown input `pyhton_version`" in report) == (code == 1)
