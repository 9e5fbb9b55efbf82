#!/bin/sh
# The image-push job: promote the image image-build pushed to its release tags (and a mirror) with skopeo,
# copying one digest everywhere; writes the dotenv report image-push.env.
#
# Runs in the skopeo image (no Python, no checkout). Inputs arrive as IMAGE_PUSH_* variables
# (templates/image-push.yml); IMAGE_REF, IMAGE_NAME and IMAGE_DIGEST come from image-build's dotenv.
set -eu
say() { printf 'image-push: %s\n' "$*" >&2; }
fail() { say "$*"; exit 1; }
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

# Release tags: vX.Y.Z -> X.Y.Z, X.Y, X (+ latest); a pre-release only itself; the default branch its tag.
tags=""
if [ -n "${CI_COMMIT_TAG:-}" ]; then
  v="${CI_COMMIT_TAG#v}"
  core='(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)'
  if printf '%s\n' "$v" | grep -Eqx "$core"; then
    major="${v%%.*}"; rest="${v#*.}"; minor="${rest%%.*}"
    tags="$v $major.$minor $major"
    if [ "$IMAGE_PUSH_LATEST" = true ]; then tags="$tags latest"; fi
  elif printf '%s\n' "$v" | grep -Eqx "$core-[0-9A-Za-z.-]+" && printf '%s\n' "$v" | grep -Eqx "$tag_re"; then
    tags="$v"
  else
    fail "git tag '$CI_COMMIT_TAG' is not a semantic version vX.Y.Z[-pre]; nothing was promoted"
  fi
elif [ -n "${CI_COMMIT_BRANCH:-}" ] && [ "$CI_COMMIT_BRANCH" = "${CI_DEFAULT_BRANCH:-}" ]; then
  tags="$IMAGE_PUSH_DEFAULT_BRANCH_TAG"
fi
if [ -z "$tags" ]; then say "no release tag for this ref; nothing to promote"; exit 0; fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
auth="$work/auth.json"  # credentials reach skopeo only through stdin and this file
src_tls="$IMAGE_PUSH_TLS_VERIFY"
mirror_tls="$IMAGE_PUSH_MIRROR_TLS_VERIFY"

# Whole numbers only: they go through shell arithmetic, which must never see an expression.
for number in "$IMAGE_PUSH_RETRIES" "$IMAGE_PUSH_RETRY_DELAY"; do
  case "$number" in '' | *[!0-9]*) fail "retries and retry_delay must be whole numbers, not '$number'" ;; esac
done
# attempt WHAT STDIN CMD...: run CMD (stdin from the file STDIN), retrying transient registry errors with
# backoff; refused credentials and unknown images fail at once with one line.
attempt() {
  what="$1"; input="$2"; shift 2; n=1; delay="$IMAGE_PUSH_RETRY_DELAY"
  while :; do
    if "$@" <"$input" >"$work/out" 2>&1; then cat "$work/out"; return 0; fi
    cat "$work/out" >&2
    if grep -Eqi 'unauthorized|authentication required|invalid username/password|denied' "$work/out"; then
      fail "$what: the registry refused the credentials; no tag was created or moved"
    fi
    if grep -Eqi 'manifest unknown|name unknown' "$work/out"; then
      fail "$what: not found in the registry; no tag was created or moved"
    fi
    if [ "$n" -ge "$IMAGE_PUSH_RETRIES" ]; then
      fail "$what: failed after $n attempts: $(grep -v '^[[:space:]]*$' "$work/out" | tail -n 1)"
    fi
    say "$what: attempt $n failed, retrying in ${delay}s"
    sleep "$delay"; n=$((n + 1)); delay=$((delay * 2))
  done
}
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

promoted=""
for dest in "$target" $mirror; do
  if [ "$dest" = "$target" ]; then dest_tls="$src_tls"; else dest_tls="$mirror_tls"; fi
  for tag in $tags; do
    attempt "copy to $dest:$tag" /dev/null skopeo copy --quiet --all --preserve-digests --authfile "$auth" \
      "--src-tls-verify=$src_tls" "--dest-tls-verify=$dest_tls" \
      "docker://$src_name@$digest" "docker://$dest:$tag"
    attempt "check $dest:$tag" /dev/null skopeo inspect --raw --authfile "$auth" "--tls-verify=$dest_tls" \
      "docker://$dest:$tag" > "$work/copied.json"
    [ "$(skopeo manifest-digest "$work/copied.json")" = "$digest" ] || fail "$dest:$tag does not have $digest"
    say "$dest:$tag -> $digest"
    promoted="$promoted $dest:$tag"
  done
done
printf 'PROMOTED_DIGEST=%s\nPROMOTED_REFS=%s\n' "$digest" "${promoted# }" > image-push.env
