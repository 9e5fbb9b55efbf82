"""ci-lint: which includes name the catalogue, and which release a component's `@<ref>` resolves to."""

from pathlib import Path

import pytest

from python_ci.ci_lint import included_refs, main, resolve
from python_ci.job import JobError

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
