#!/bin/sh
# The image-push job: promote the image image-build pushed to its release tags (and a mirror) with skopeo,
# copying one digest everywhere; writes the dotenv report image-push.env.
#
# Runs in the skopeo image (no Python, no checkout). Inputs arrive as IMAGE_PUSH_* variables
# (templates/image-push.yml); IMAGE_REF, IMAGE_NAME and IMAGE_DIGEST come from image-build's dotenv.
set -eu
JOB="image-push"
RETRIES="$IMAGE_PUSH_RETRIES"
RETRY_DELAY="$IMAGE_PUSH_RETRY_DELAY"
NOTHING_DONE="no tag was created or moved"
# shellcheck source=python_ci/registry.sh
. "${0%/*}/registry.sh"
require_tools skopeo grep sort mktemp
whole_numbers "$RETRIES" "$RETRY_DELAY"
repo_re='[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]{1,5})?(/[a-z0-9]+([._-][a-z0-9]+)*)+'
tag_re='[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}'
source="$IMAGE_PUSH_SOURCE"
want_digest="$IMAGE_PUSH_SOURCE_DIGEST"
target="$IMAGE_PUSH_TARGET_IMAGE"
mirror="$IMAGE_PUSH_MIRROR_IMAGE"
# Values come from CI/CD variables at run time, so check them again after expansion.
case "$source" in
  *@sha256:*) src_name="${source%@*}" ;;
  *) src_name="${source%:*}"; printf '%s\n' "${source##*:}" | grep -Eqx "$tag_re" \
       || fail "source '$source' has no tag or digest" ;;
esac
printf '%s\n' "$src_name" | grep -Eqx "$repo_re" || fail "source '$source' is not host[:port]/path:tag"
printf '%s\n' "$target" | grep -Eqx "$repo_re" || fail "target image '$target' is not host[:port]/path"
[ -z "$mirror" ] || printf '%s\n' "$mirror" | grep -Eqx "$repo_re" \
  || fail "mirror image '$mirror' is not host[:port]/path"
[ -z "$want_digest" ] || printf '%s\n' "$want_digest" | grep -Eqx 'sha256:[a-f0-9]{64}' \
  || fail "source digest '$want_digest' is not sha256:<64 hex>"

# Release tags: v1.4.2 -> 1.4.2, 1.4, 1 (+ latest); a pre-release only itself (2.0.0-rc.1, 2.0.0rc1); the default
# branch its tag. Which tags are releases is the version component's rule (release_tags.sh, beside this script).
tags=""
if [ -n "${CI_COMMIT_TAG:-}" ]; then
  tags="$(sh "$(dirname "$0")/release_tags.sh" "$CI_COMMIT_TAG" "$IMAGE_PUSH_TAG_PREFIX" "$IMAGE_PUSH_LATEST" 2>/dev/null)" \
    || fail "git tag '$CI_COMMIT_TAG' is not a release tag (X.Y.Z[-pre] after '$IMAGE_PUSH_TAG_PREFIX'); nothing was promoted"
elif [ -n "${CI_COMMIT_BRANCH:-}" ] && [ "$CI_COMMIT_BRANCH" = "${CI_DEFAULT_BRANCH:-}" ]; then
  tags="$IMAGE_PUSH_DEFAULT_BRANCH_TAG"
fi
if [ -z "$tags" ]; then say "no release tag for this ref; nothing to promote"; exit 0; fi

WORK="$(mktemp -d)"
work="$WORK"
trap 'rm -rf "$work"' EXIT
auth="$work/auth.json"  # credentials reach skopeo only through stdin and this file
src_tls="$IMAGE_PUSH_TLS_VERIFY"
mirror_tls="$IMAGE_PUSH_MIRROR_TLS_VERIFY"

login() {  # login HOST TLS_VERIFY USER PASSWORD
  printf '%s' "$4" > "$work/password"
  attempt "login to $1" "$work/password" \
    skopeo login --authfile "$auth" "--tls-verify=$2" -u "$3" --password-stdin "$1"
  rm -f "$work/password"
}

# Check everything that can be checked before the first copy: credentials for every registry, the source.
for host in $(printf '%s\n' "${src_name%%/*}" "${target%%/*}" | sort -u); do
  if [ -n "${CI_REGISTRY_PASSWORD:-}" ]; then
    login "$host" "$src_tls" "${CI_REGISTRY_USER:?CI_REGISTRY_USER is empty}" "$CI_REGISTRY_PASSWORD"
  fi
done
if [ -n "$mirror" ]; then
  user_var="$IMAGE_PUSH_MIRROR_USER_VARIABLE"; password_var="$IMAGE_PUSH_MIRROR_PASSWORD_VARIABLE"
  # The names are checked before eval reads the variables they name, so eval only ever sees `${NAME:-}`
  # (a case pattern, not grep, which would accept a value whose first line alone is a name).
  for name in "$user_var" "$password_var"; do
    case "$name" in
      [A-Z]*) case "$name" in *[!A-Z0-9_]*) fail "mirror credential variable '$name' is not a NAME" ;; esac ;;
      *) fail "mirror credential variable '$name' is not a NAME" ;;
    esac
  done
  eval "mirror_user=\"\${$user_var:-}\"; mirror_password=\"\${$password_var:-}\""
  if [ -z "$mirror_user" ] || [ -z "$mirror_password" ]; then
    fail "mirror $mirror: \$$user_var or \$$password_var is empty; nothing was promoted"
  fi
  login "${mirror%%/*}" "$mirror_tls" "$mirror_user" "$mirror_password"
fi
attempt "source $source" /dev/null \
  skopeo inspect --raw --authfile "$auth" "--tls-verify=$src_tls" "docker://$source" > "$work/manifest.json"
digest="$(skopeo manifest-digest "$work/manifest.json")"
if [ -n "$want_digest" ] && [ "$digest" != "$want_digest" ]; then
  fail "source $source is now $digest, not the built $want_digest; nothing was promoted"
fi
say "promoting $src_name@$digest as: $tags"

# Stage, then tag. First the image (blobs and manifest) reaches every destination repository by digest: the long
# transfer that a network or registry failure interrupts, and a manifest pushed by digest creates no tag. Only
# when every destination holds it are the tags moved: manifest-only copies inside one repository, each checked.
for dest in "$target" $mirror; do
  if [ "$dest" = "$target" ]; then dest_tls="$src_tls"; else dest_tls="$mirror_tls"; fi
  attempt "copy to $dest@$digest" /dev/null skopeo copy --quiet --all --preserve-digests --authfile "$auth" \
    "--src-tls-verify=$src_tls" "--dest-tls-verify=$dest_tls" "docker://$src_name@$digest" "docker://$dest@$digest"
done
promoted=""
for dest in "$target" $mirror; do
  if [ "$dest" = "$target" ]; then dest_tls="$src_tls"; else dest_tls="$mirror_tls"; fi
  for tag in $tags; do
    attempt "tag $dest:$tag" /dev/null skopeo copy --quiet --all --preserve-digests --authfile "$auth" \
      "--src-tls-verify=$dest_tls" "--dest-tls-verify=$dest_tls" "docker://$dest@$digest" "docker://$dest:$tag"
    attempt "check $dest:$tag" /dev/null skopeo inspect --raw --authfile "$auth" "--tls-verify=$dest_tls" \
      "docker://$dest:$tag" > "$work/copied.json"
    [ "$(skopeo manifest-digest "$work/copied.json")" = "$digest" ] || fail "$dest:$tag does not have $digest"
    say "$dest:$tag -> $digest"
    promoted="$promoted $dest:$tag"
    NOTHING_DONE="moved so far:$promoted (re-run the job to move the rest)"
  done
done
printf 'PROMOTED_DIGEST=%s\nPROMOTED_REFS=%s\n' "$digest" "${promoted# }" > image-push.env
