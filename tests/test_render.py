"""The job library is rendered into the templates, stays fresh, and the generated script really runs it."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.render import MARKER, RenderError, generated_block, library_files, library_key, main, render_template
from scripts.validate import ROOT


def _catalogue(tmp_path: Path, module: str = "def main(argv):\n    print('ran', argv)\n    return 3\n") -> Path:
    (tmp_path / "python_ci").mkdir(parents=True)
    (tmp_path / "python_ci" / "__init__.py").write_text("")
    (tmp_path / "python_ci" / "__main__.py").write_text(
        "import sys\nfrom python_ci import probe\nsys.exit(probe.main(sys.argv[1:]))\n"
    )
    (tmp_path / "python_ci" / "probe.py").write_text(module)
    (tmp_path / "python_ci" / "hello_world.sh").write_text('echo "hello $1"\n')
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "probe.yml").write_text(
        "spec:\n  inputs: {}\n---\njob:\n  script:\n    - !reference [.python-ci-lib-0, script]\n"
        f"    - python_ci probe\n\n{MARKER}\nstale\n"
    )
    return tmp_path


def test_repository_templates_are_fresh() -> None:
    assert main(["--check"]) == 0


def test_stale_template_is_reported_and_rewritten(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _catalogue(tmp_path)
    assert main(["--check", "--root", str(root)]) == 1
    assert "templates/probe.yml is stale" in capsys.readouterr().err
    assert main(["--root", str(root)]) == 0
    assert main(["--check", "--root", str(root)]) == 0
    text = (root / "templates" / "probe.yml").read_text()
    key = library_key(library_files(root))
    # The hand-written reference follows the library's content.
    assert f"!reference [{key}, script]" in text
    assert text.count(MARKER) == 1


def test_a_line_the_heredoc_cannot_carry_is_refused(tmp_path: Path) -> None:
    root = _catalogue(tmp_path, module="X = '''\nPYTHON_CI_EOF\n'''\n")
    with pytest.raises(RenderError, match=r"probe\.py:2"):
        library_files(root)
    root2 = _catalogue(tmp_path / "b", module="X = '$[[ inputs.x ]]'\n")
    with pytest.raises(RenderError, match="cannot carry"):
        library_files(root2)


def test_template_without_marker_is_refused() -> None:
    with pytest.raises(RenderError, match="marker"):
        render_template("spec:\n---\njob: {}\n", {"python_ci/__main__.py": ""})


def test_generated_script_writes_the_library_and_dispatches(tmp_path: Path) -> None:
    root = _catalogue(tmp_path)
    block = generated_block(library_files(root))
    script = "\n".join(line[6:] for line in block.splitlines() if line.startswith("      "))
    shell = shutil.which("dash") or "sh"
    run = subprocess.run(
        [shell, "-c", f"{script}\npython_ci probe a 'b c'; echo \"status $?\"\npython_ci hello-world you\n"],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"},
    )
    assert run.stdout.splitlines() == ["ran ['probe', 'a', 'b c']", "status 3", "hello you"]


def test_the_library_itself_renders() -> None:
    files = library_files(ROOT)
    assert "python_ci/__main__.py" in files
    assert all(path.startswith("python_ci/") for path in files)
