#!/bin/sh
# Offline installer written by the python-ci wheelhouse component (POSIX sh: bash, dash and busybox all run it).
# It checks every file against SHA256SUMS before anything else, then makes a new virtual environment and installs
# from ./wheels alone: no index, no network, no pip configuration of this machine.
#
#   ./install.sh VENV_DIR                          from inside the unpacked wheelhouse
#   ./install.sh --archive FILE.tar.gz VENV_DIR    checks FILE.tar.gz.sha256 first, unpacks to a temp dir, installs
#
# PYTHON names the interpreter the venv is made from (default python3). VENV_DIR must be absent or empty; on any
# failure the script removes what it created, so a failed install leaves nothing behind.
# A project shipped as source (an application folder, not a package) is copied to VENV_DIR/project and put on the
# venv's import path: run its server from that folder.
set -eu

# Filled in by python_ci/wheelhouse_pack.py when the wheelhouse is packed (this file is the template).
ARCHIVE_ROOT='@ARCHIVE_ROOT@'
PROJECT_MODE='@PROJECT_MODE@'
LOCAL_WHEELS='@LOCAL_WHEELS@'
PYTHONS='@PYTHONS@'
TARGETS='@TARGETS@'

die() {
  printf 'install.sh: %s\n' "$*" >&2
  exit 1
}

archive=""
if [ "${1:-}" = "--archive" ]; then
  [ $# -ge 2 ] || die "--archive needs a file"
  archive=$2
  shift 2
fi
if [ $# -ne 1 ] || [ -z "$1" ]; then die "usage: install.sh [--archive FILE.tar.gz] VENV_DIR"; fi
venv=$1
python=${PYTHON:-python3}

work=""
made=""
done_ok=""
finish() {
  if [ -n "$work" ]; then rm -rf "$work"; fi
  if [ -z "$done_ok" ] && [ -n "$made" ]; then
    rm -rf "$made"
    printf 'install.sh: failed; removed %s\n' "$made" >&2
  fi
}
trap finish EXIT
trap 'exit 1' HUP INT TERM

if [ -n "$archive" ]; then
  [ -f "$archive" ] || die "no archive at $archive"
  [ -f "$archive.sha256" ] || die "no $archive.sha256 next to the archive; nothing installed"
  read -r expected _ <"$archive.sha256"
  actual=$(sha256sum "$archive")
  actual=${actual%% *}
  [ "$expected" = "$actual" ] || die "checksum failure: $archive is $actual, $archive.sha256 says $expected; nothing installed"
  work=$(mktemp -d)
  tar -xzf "$archive" -C "$work" || die "cannot unpack $archive; nothing installed"
  here="$work/$ARCHIVE_ROOT"
else
  here=$(cd "$(dirname "$0")" && pwd)
fi
if ! [ -f "$here/SHA256SUMS" ] || ! [ -d "$here/wheels" ]; then
  die "$here is not a wheelhouse (SHA256SUMS or wheels/ missing)"
fi

# Integrity first: every listed file matches, and wheels/ holds nothing unlisted (pip would install an extra wheel).
if ! checked=$(cd "$here" && sha256sum -c SHA256SUMS 2>&1); then
  printf '%s\n' "$checked" | grep -v ': OK$' >&2 || true
  die "checksum failure in $here; nothing installed"
fi
listed=$(sed -n 's/^[0-9a-f]\{64\}  wheels\/\(.*\)$/\1/p' "$here/SHA256SUMS" | LC_ALL=C sort)
present=$(cd "$here/wheels" && find . ! -name . -prune -print | sed 's|^\./||' | LC_ALL=C sort)
[ "$listed" = "$present" ] || die "wheels/ differs from SHA256SUMS (extra or missing files); nothing installed"

version=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])') || die "cannot run $python"
case " $PYTHONS " in
*" $version "*) ;;
*) die "$python is Python $version; this wheelhouse holds wheels for Python $PYTHONS (targets: $TARGETS)" ;;
esac

if [ -e "$venv" ]; then
  if ! [ -d "$venv" ] || [ -n "$(find "$venv" ! -path "$venv" -prune -print)" ]; then
    die "$venv exists and is not empty; choose a new directory"
  fi
fi
made=$venv
"$python" -m venv "$venv"

# pip sees ./wheels and nothing else: drop every PIP_* setting and every pip configuration file of this machine.
for name in $(env | sed -n 's/^\(PIP_[A-Za-z0-9_]*\)=.*/\1/p'); do
  unset "$name"
done
PIP_CONFIG_FILE=/dev/null PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
export PIP_CONFIG_FILE PIP_NO_INDEX PIP_DISABLE_PIP_VERSION_CHECK PIP_NO_CACHE_DIR
pip_install() {
  "$venv/bin/python" -m pip install --no-index --find-links "$here/wheels" --only-binary=:all: --no-input "$@"
}
pip_install --requirement "$here/requirements.txt"
# The project's own wheel and those of the uv workspace members it depends on: built from the checkout, so no
# pin names them; their dependencies are all in requirements.txt.
for wheel in $LOCAL_WHEELS; do
  pip_install --no-deps "$here/wheels/$wheel"
done
if [ "$PROJECT_MODE" = wheel ]; then
  shipped=${LOCAL_WHEELS##* }
else
  cp -R "$here/project" "$venv/project"
  site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  (cd "$venv/project" && pwd) >"$site/wheelhouse-project.pth"
  shipped="the project's source in $venv/project"
fi
"$venv/bin/python" -m pip check
done_ok=1
printf 'install.sh: installed %s into %s (Python %s)\n' "$shipped" "$venv" "$version"
