#!/bin/sh
# release_tags.sh TAG [PREFIX] [LATEST]: the image tags a git release tag promotes to, on one line:
#   v1.4.2 -> "1.4.2 1.4 1" (and "latest" when LATEST is true); a pre-release (v2.0.0-rc.1, 2.0.0rc1) -> itself
#   without the prefix ("2.0.0-rc.1"). Exit 1 with one line on stderr when TAG is not a release tag.
# PREFIX is the version component's tag_prefix (default "v?": "v" or nothing). The rule is python_ci/tags.py's,
# for images without Python (skopeo); tests/python_ci/test_tags.py holds both to one table of cases.
set -eu
tag="$1"
prefix="${2-v?}"
latest="${3-false}"
core_ere='(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)'
version_ere="$core_ere"'([-._]?(alpha|a|beta|b|c|rc|preview|pre)([-._]?([0-9]+))?)?'
# A final "?" makes the character before it optional, as in a regular expression: "v?", "api/v?".
required="$prefix"
optional=""
case "$prefix" in
  *'?')
    body="${prefix%?}"
    required="${body%?}"
    optional="${body#"$required"}"
    ;;
esac
version=""
if [ "${tag#"$required"}" != "$tag" ] || [ -z "$required" ]; then
  version="${tag#"$required"}"
  if [ -n "$optional" ] && [ "${version#"$optional"}" != "$version" ]; then version="${version#"$optional"}"; fi
fi
# One line of safe characters only: grep -x matches line by line, and the result becomes an image tag.
case "$version" in
  '' | *[!A-Za-z0-9._-]*) version="" ;;
esac
if [ -z "$version" ] || ! printf '%s\n' "$version" | grep -Eqx "$version_ere"; then
  printf "release-tags: git tag '%s' is not a release tag: X.Y.Z[-pre] after the prefix '%s'\n" "$tag" "$prefix" >&2
  exit 1
fi
if printf '%s\n' "$version" | grep -Eqx "$core_ere"; then
  major="${version%%.*}"
  rest="${version#*.}"
  tags="$version $major.${rest%%.*} $major"
  if [ "$latest" = true ]; then tags="$tags latest"; fi
else
  tags="$version"
fi
printf '%s\n' "$tags"
