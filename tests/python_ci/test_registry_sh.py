"""python_ci/registry.sh: which registry errors are retried, the retry loop, and the tools check (sourced by sh)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from tests.python_ci.shell_support import LIBRARY, tool_dir

# Texts as buildah 1.28 / skopeo 1.9 (containers/image) print them, one per kind.
SAMPLES = [
    ("privilege", 'Error during unshare(CLONE_NEWUSER): Operation not permitted\nlevel=error msg="exit status 125"'),
    ("privilege", "cannot re-exec process to join the user namespace"),
    ("auth", 'Error: logging into "127.0.0.1:5000": invalid username/password'),
    ("auth", "Error: writing manifest: unauthorized: authentication required"),
    ("auth", "denied: requested access to the resource is denied"),
    ("auth", "writing manifest: insufficient_scope: authorization failed"),
    ("unknown", "reading manifest nope in 127.0.0.1:5000/app: manifest unknown: manifest unknown"),
    ("unknown", "Error: initializing source docker://127.0.0.1:5000/nope:1: name unknown: repository name not known"),
    ("tls", "pinging container registry r.example: Get https://r.example/v2/: x509: certificate signed by unknown"),
    ("tls", "http: server gave HTTP response to HTTPS client"),
    ("transient", "pinging container registry 127.0.0.1:1: Get http://127.0.0.1:1/v2/: connect: connection refused"),
    ("transient", "writing manifest: received unexpected HTTP status: 503 Service Unavailable"),
    ("transient", "net/http: TLS handshake timeout"),
    ("transient", "reading blob sha256:ab12: unexpected EOF"),
    ("transient", "toomanyrequests: too many requests"),
    ("transient", "dial tcp: lookup registry.example on 10.0.0.2:53: read udp: i/o timeout"),
    ("other", 'Error: building at STEP "RUN false": while running runtime: exit status 1'),
    ("other", "Error: parsing Dockerfile: dockerfile parse error on line 1: unknown instruction: FORM"),
    ("other", "Error: no context directory and no Containerfile specified"),
]


def _source(
    tmp_path: Path, code: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", "-c", f'. "$0"; {code}', str(LIBRARY / "registry.sh"), *args],
        env={"PATH": "/usr/bin:/bin", "JOB": "test-job", "WORK": str(tmp_path), **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize(("kind", "text"), SAMPLES, ids=[f"{k}-{i}" for i, (k, _) in enumerate(SAMPLES)])
def test_classify(tmp_path: Path, kind: str, text: str) -> None:
    out = tmp_path / "out.txt"
    out.write_text(text + "\n")
    done = _source(tmp_path, 'classify "$1"', str(out))
    assert done.stdout.strip() == kind, done.stderr


def _flaky(tmp_path: Path, failures: int, text: str) -> Path:
    """A command that fails with `text` `failures` times, then succeeds; counts its runs in `runs`."""
    script = tmp_path / "flaky"
    script.write_text(
        f"#!/bin/sh\necho x >> {tmp_path}/runs\n"
        f'[ "$(wc -l < {tmp_path}/runs)" -gt {failures} ] && {{ echo done; exit 0; }}\n'
        f"echo '{text}' >&2; exit 1\n"
    )
    script.chmod(0o755)
    return script


def _attempt(tmp_path: Path, failures: int, text: str, retries: int = 3, delay: int = 0) -> tuple[int, str, int]:
    flaky = _flaky(tmp_path, failures, text)
    done = _source(
        tmp_path,
        'attempt "push x" /dev/null "$1"',
        str(flaky),
        env={"RETRIES": str(retries), "RETRY_DELAY": str(delay), "NOTHING_DONE": "nothing was pushed"},
    )
    runs = len((tmp_path / "runs").read_text().splitlines())
    return done.returncode, done.stderr + done.stdout, runs


def test_a_transient_error_is_retried_until_it_passes(tmp_path: Path) -> None:
    status, output, runs = _attempt(tmp_path, 2, "received unexpected HTTP status: 502 Bad Gateway")
    assert (status, runs) == (0, 3), output
    assert output.count("test-job: push x: attempt") == 2
    assert output.rstrip().endswith("done")


def test_retries_back_off_doubling_and_then_give_up_with_one_line(tmp_path: Path) -> None:
    started = time.monotonic()
    status, output, runs = _attempt(tmp_path, 9, "connect: connection refused", retries=3, delay=1)
    assert (status, runs) == (1, 3), output
    assert time.monotonic() - started >= 3
    assert "retrying in 1s" in output and "retrying in 2s" in output
    last = [line for line in output.splitlines() if line.startswith("test-job: ")][-1]
    assert last == "test-job: push x: failed after 3 attempts (nothing was pushed): connect: connection refused"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("unauthorized: authentication required", "the registry refused the credentials; nothing was pushed"),
        ("manifest unknown: manifest unknown", "not found in the registry; nothing was pushed"),
        ("Error during unshare(CLONE_NEWUSER): Operation not permitted", "privileged = true"),
        ("x509: certificate signed by unknown authority", "TLS failed"),
        ("Error: parsing Dockerfile: unknown instruction: FORM", "not a transient error, not retried"),
    ],
)
def test_an_error_that_is_not_transient_is_never_retried(tmp_path: Path, text: str, says: str) -> None:
    status, output, runs = _attempt(tmp_path, 9, text)
    assert (status, runs) == (1, 1), output
    assert "retrying" not in output
    mine = [line for line in output.splitlines() if line.startswith("test-job: ")]
    assert len(mine) == 1 and says in mine[0], output


def test_require_tools_names_every_missing_tool(tmp_path: Path) -> None:
    bin_dir = tool_dir(tmp_path / "bin")
    done = _source(tmp_path, "require_tools grep skopeo buildah", env={"PATH": str(bin_dir)})
    assert done.returncode == 1
    assert done.stderr.startswith("test-job: the job's image has no skopeo buildah; set the component's `image`")
    assert _source(tmp_path, "require_tools grep sh", env={"PATH": str(bin_dir)}).returncode == 0


@pytest.mark.parametrize("value", ["", "3x", "1+1", "-1", "$((1))"])
def test_whole_numbers_refuses_anything_but_digits(tmp_path: Path, value: str) -> None:
    done = _source(tmp_path, 'whole_numbers 4 "$1"', value)
    assert done.returncode == 1
    assert f"not '{value}'" in done.stderr
