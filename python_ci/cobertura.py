"""Make a Cobertura report (coverage.py's `coverage xml`) placeable by GitLab: every class's `filename` the file's
path from the repository's root, and one `<source>`, the checkout's root.

GitLab shows line coverage in a merge request only for classes whose file it finds in the repository (GitLab docs,
"Cobertura coverage report", path correction): it joins the part of each `<source>` after the project's path
(`/builds/<group>/<project>/`) with the class's `filename`, and otherwise takes `filename` as a path from the
repository's root. coverage.py writes `filename` relative to a source folder (`src/`, the project's folder in a
monorepo) and, with `[tool.coverage.run] relative_files = true`, relative `<source>`s that GitLab cannot place.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path


def rewrite(report: Path, root: Path, cwd: Path) -> int:
    """Rewrite `report` in place: each class's `filename` becomes the path from `root` (the checkout) of the file it
    names, found under one of the report's `<source>`s (relative ones taken from `cwd`, where coverage ran); the
    sources become the single `root`. A file found nowhere keeps its name. Returns the number of files placed."""
    # The report was written by coverage.py in this very job, not received from elsewhere (and the standard
    # library is all a job has: no defusedxml).
    tree = ET.parse(report)  # noqa: S314
    coverage = tree.getroot()
    sources = [cwd / (element.text or "").strip() for element in coverage.iter("source")] or [cwd]
    placed = 0
    for element in coverage.iter("class"):
        name = element.get("filename", "")
        for source in sources:
            path = (source / name).resolve()
            if path.is_file() and path.is_relative_to(root):
                element.set("filename", Path(os.path.relpath(path, root)).as_posix())
                placed += 1
                break
    container = coverage.find("sources")
    if container is None:
        container = ET.Element("sources")
        coverage.insert(0, container)
    for element in list(container):
        container.remove(element)
    ET.SubElement(container, "source").text = str(root)
    tree.write(report, encoding="utf-8", xml_declaration=True)
    return placed
