"""The CycloneDX 1.5 JSON SBOM of the Python distributions an interpreter sees: image_build.sh runs this file with
the built image's own `python3` (`buildah run`), so it is no job command and must run on Python >= 3.8 with the
standard library only.

    python3 image_sbom.py IMAGE_NAME TAG [OUTPUT]

Exit status 0 with the SBOM in the file OUTPUT, or on stdout without it (image_build.sh passes a file: buildah
1.28's chroot `run` was seen here to drop a quickly exiting process's output under load); 3 when the interpreter
is older than 3.8 (no `importlib.metadata`: the caller warns and goes on without an SBOM); anything else is a
failure.
"""

# Python 3.7 must still reach the version check below, so only syntax it parses is used here; 3.8 and older read
# builtin generics in annotations only with this import.
from __future__ import annotations

import json
import re
import sys
import uuid
from datetime import datetime, timezone
from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:
    from importlib.metadata import PackageMetadata

TOO_OLD = 3
TOOL = "python-ci image_sbom.py: the Python distributions of a container image's own interpreter"
# The classifier prefix of PyPI's trove classifiers that name a licence; the bare "OSI Approved" names none.
LICENSE_CLASSIFIER = "License :: "


def normalized(name: str) -> str:
    """`name` as PEP 503 normalizes a project name: runs of `-`, `_` and `.` become one `-`, lower case."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pypi_purl(name: str, version: str) -> str:
    """The package URL of a PyPI release (purl spec, type `pypi`: the name lower-cased with `_` as `-`; the version
    percent-encoded, e.g. a local version's `+` as `%2B`)."""
    return f"pkg:pypi/{quote(name.lower().replace('_', '-'), safe='')}@{quote(version, safe='')}"


def oci_purl(image: str, tag: str) -> str:
    """The package URL of image `image` (`host[:port]/path`) at `tag` (purl spec, type `oci`: the name is the
    repository's last segment, `repository_url` and `tag` are qualifiers). Without its version, the manifest digest,
    which only the push makes: image_build.sh adds `@sha256%3A...` after pushing."""
    name = image.rsplit("/", 1)[-1]
    return f"pkg:oci/{quote(name, safe='')}?repository_url={quote(image, safe='/:')}&tag={quote(tag, safe='')}"


def licenses(metadata: PackageMetadata) -> list[dict[str, object]]:
    """CycloneDX `licenses` of one distribution's core metadata (an email.message.Message): its
    `License-Expression` (PEP 639, an SPDX expression) when present; else the names its `License ::` trove
    classifiers give; else its one-line `License` field (a multi-line field is a licence text, not a name); else
    []. Never guesses an SPDX id from a name."""
    expression = (metadata.get_all("License-Expression") or [""])[0].strip()
    if expression:
        return [{"expression": expression}]
    names = [
        item.rsplit(" :: ", 1)[-1]
        for item in metadata.get_all("Classifier") or []
        if item.startswith(LICENSE_CLASSIFIER) and item.strip() != "License :: OSI Approved"
    ]
    if not names:
        field = (metadata.get_all("License") or [""])[0].strip()
        if field and "\n" not in field and field.upper() != "UNKNOWN":
            names = [field]
    return [{"license": {"name": name}} for name in dict.fromkeys(names)]


def components(path: list[str]) -> list[dict[str, object]]:
    """One CycloneDX `library` component per distribution installed on `path` (sys.path entries, searched in
    order), sorted by name: when two entries hold the same project (PEP 503 name), the first wins, as it does for
    the import system. Distributions without a name or version (broken metadata) are left out."""
    from importlib import metadata  # noqa: PLC0415 - Python >= 3.8, which main() checks before this runs

    seen: dict[str, dict[str, object]] = {}
    for dist in metadata.distributions(path=path):
        name = (dist.metadata["Name"] or "").strip()
        version = (dist.version or "").strip()
        key = normalized(name)
        if not name or not version or key in seen:
            continue
        purl = pypi_purl(name, version)
        component: dict[str, object] = {"type": "library", "bom-ref": purl, "name": name, "version": version}
        found = licenses(dist.metadata)
        if found:
            component["licenses"] = found
        component["purl"] = purl
        seen[key] = component
    return [seen[key] for key in sorted(seen)]


def bom(image: str, tag: str, path: list[str]) -> dict[str, object]:
    """The SBOM (CycloneDX 1.5 JSON) of the distributions on `path`, describing image `image`:`tag` as its
    `metadata.component` (type `container`) and python-ci as the tool that made it."""
    image_ref = oci_purl(image, tag)
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": uuid.uuid4().urn,
        "version": 1,
        "metadata": {
            "timestamp": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "tools": {"components": [{"type": "application", "name": "python-ci", "description": TOOL}]},
            "component": {"type": "container", "bom-ref": image_ref, "name": image, "version": tag, "purl": image_ref},
            "properties": [
                {"name": "python-ci:interpreter", "value": sys.executable},
                {"name": "python-ci:python-version", "value": ".".join(map(str, sys.version_info[:3]))},
            ],
        },
        "components": components(path),
    }


def main(argv: list[str]) -> int:
    """Write the SBOM of image argv[0] at tag argv[1] to the file argv[2] (stdout without it); 2 on a usage error,
    TOO_OLD before Python 3.8."""
    if len(argv) not in (2, 3):
        sys.stderr.write("usage: image_sbom.py IMAGE_NAME TAG [OUTPUT]\n")
        return 2
    if sys.version_info < (3, 8):
        return TOO_OLD
    # sys.path[0] is this file's folder (a mount point), not part of the image's environment.
    path = [entry for entry in sys.path[1:] if entry]
    text = json.dumps(bom(argv[0], argv[1], path), indent=2) + "\n"
    if len(argv) == 3:
        with open(argv[2], "w", encoding="utf-8") as output:  # noqa: PTH123 - the image's Python may be 3.7
            output.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
