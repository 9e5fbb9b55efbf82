#!/bin/sh
# The image-build job: build the Dockerfile with buildah, make the SBOM of the image's Python environment, push one
# tag, write the dotenv report image-build.env and the SBOM ci-reports/image-sbom.cdx.json.
#
# Runs in the buildah image (no Python), from the project directory. Inputs arrive as IMAGE_BUILD_* variables
# (templates/image-build.yml); BUILD_* from the version component's dotenv stamp the labels and build args.
set -eu
JOB="image-build"
RETRIES="$IMAGE_BUILD_RETRIES"
RETRY_DELAY="$IMAGE_BUILD_RETRY_DELAY"
NOTHING_DONE="nothing was pushed"
# shellcheck source=python_ci/registry.sh
. "${0%/*}/registry.sh"
require_tools buildah grep tr tee mktemp date sed cp mv
whole_numbers "$RETRIES" "$RETRY_DELAY"
image="$IMAGE_BUILD_IMAGE_NAME"
tag="$IMAGE_BUILD_TAG"
# Values come from CI/CD variables at run time, so check them again after expansion.
printf '%s\n' "$image" | grep -Eqx '[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]{1,5})?(/[a-z0-9]+([._-][a-z0-9]+)*)+' \
  || fail "image name '$image' is not host[:port]/path in lower case"
printf '%s\n' "$tag" | grep -Eqx '[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}' \
  || fail "tag '$tag' is not a valid image tag"
registry="${image%%/*}"
ref="$image:$tag"
tls="--tls-verify=$IMAGE_BUILD_TLS_VERIFY"
WORK="$(mktemp -d)"
work="$WORK"
trap 'rm -rf "$work"' EXIT
# A private auth file: credentials never reach a command line, and parallel jobs never share one.
export REGISTRY_AUTH_FILE="$work/auth.json"
buildah() { command buildah --storage-driver "$IMAGE_BUILD_STORAGE_DRIVER" "$@"; }

# Probe: buildah as root without CAP_SYS_ADMIN re-executes itself in a user namespace, which an unprivileged
# container's seccomp profile forbids. Say so once, before a login or build could report it as something else.
if ! buildah info >"$work/probe" 2>&1; then
  cat "$work/probe" >&2
  if [ "$(classify "$work/probe")" = privilege ]; then fail "$(privilege_hint)"; fi
  fail "buildah cannot start: $(last_line "$work/probe")"
fi

if [ -n "${CI_REGISTRY_PASSWORD:-}" ]; then
  printf '%s' "$CI_REGISTRY_PASSWORD" > "$work/password"
  attempt "login to $registry" "$work/password" \
    buildah login "$tls" -u "${CI_REGISTRY_USER:?CI_REGISTRY_USER is empty}" --password-stdin "$registry"
  rm -f "$work/password"
fi

# Version stamp: the version component's dotenv (BUILD_*) when present, else the commit.
version="${BUILD_VERSION:-${CI_COMMIT_TAG:-$CI_COMMIT_SHORT_SHA}}"
revision="${BUILD_GIT_REVISION:-$CI_COMMIT_SHA}"
created="${BUILD_DATE:-$(date -u +%Y-%m-%dT%H:%M:%SZ)}"
set -- --layers "--isolation=$IMAGE_BUILD_ISOLATION" "$tls" --retry "$IMAGE_BUILD_RETRIES" \
  --file "$IMAGE_BUILD_DOCKERFILE" --tag "$ref" \
  --build-arg "VERSION=$version" --build-arg "GIT_REVISION=$revision" --build-arg "BUILD_DATE=$created" \
  --label "org.opencontainers.image.revision=$revision" \
  --label "org.opencontainers.image.version=$version" \
  --label "org.opencontainers.image.created=$created" \
  --label "org.opencontainers.image.source=${CI_PROJECT_URL:-}" \
  --label "org.opencontainers.image.url=${CI_PROJECT_URL:-}" \
  --label "org.opencontainers.image.title=${CI_PROJECT_NAME:-}"
if [ -n "$IMAGE_BUILD_TARGET" ]; then set -- "$@" --target "$IMAGE_BUILD_TARGET"; fi
if [ "$IMAGE_BUILD_LAYER_CACHE" = true ]; then
  set -- "$@" --cache-from "$image/cache" --cache-to "$image/cache"
fi
ca="$IMAGE_BUILD_CA_BUNDLE"
if [ -z "$ca" ] && [ -n "${PYTHON_CI_CA_BUNDLE:-}" ]; then
  # The pipeline's index CA (README "On an internal network"), next to the build image's own roots: a File-type
  # variable names a file, a plain one holds the PEM text.
  { cat /etc/ssl/certs/ca-certificates.crt 2>/dev/null || true
    if [ -f "$PYTHON_CI_CA_BUNDLE" ]; then cat "$PYTHON_CI_CA_BUNDLE"; else printf '%s\n' "$PYTHON_CI_CA_BUNDLE"; fi
  } > "$work/ca-bundle.pem"
  ca="$work/ca-bundle.pem"
fi
if [ -n "$ca" ]; then
  case "$ca" in *[:,]*) fail "ca_bundle '$ca' must not contain ':' or ','" ;; esac
  [ -f "$ca" ] || fail "ca_bundle '$ca' is not a file"
  set -- "$@" --volume "$ca:/etc/ssl/certs/ca-certificates.crt:ro"
fi
index="${PYTHON_CI_INDEX_URL:-}"
if [ -n "$index" ]; then
  # RUN steps get the pipeline's package index as build args (a Dockerfile uses them with `ARG PIP_INDEX_URL`)
  # and its credentials as the build secret `netrc` (`RUN --mount=type=secret,id=netrc`), which no layer keeps.
  authority="${index#*://}"
  authority="${authority%%/*}"
  case "$authority" in
    *@*) say "PYTHON_CI_INDEX_URL holds credentials: set PYTHON_CI_INDEX_USERNAME and PYTHON_CI_INDEX_PASSWORD"; exit 1 ;;
  esac
  host="${authority%:*}"
  user="${PYTHON_CI_INDEX_USERNAME:-}"
  pass="${PYTHON_CI_INDEX_PASSWORD:-}"
  if [ -z "$user$pass" ] && [ "$host" = "${CI_SERVER_HOST:-}" ] && [ -n "${CI_JOB_TOKEN:-}" ]; then
    user=gitlab-ci-token  # GitLab's own package registry: the job token
    pass="$CI_JOB_TOKEN"
  fi
  set -- "$@" --build-arg "PIP_INDEX_URL=$index" --build-arg "UV_DEFAULT_INDEX=$index"
  if [ -n "$user" ]; then
    (umask 077 && printf 'machine %s\nlogin %s\npassword %s\n' "$host" "$user" "$pass" > "$work/netrc")
    set -- "$@" --secret "id=netrc,src=$work/netrc"
  fi
  say "RUN steps get the package index $index (build args PIP_INDEX_URL, UV_DEFAULT_INDEX${user:+; build secret netrc})"
fi
set -f  # items are words, never globs
for item in $(printf '%s' "${IMAGE_BUILD_ARGS#build_args=}" | tr -d '[]"' | tr ',' ' '); do
  name="${item%%=*}"
  printf '%s\n' "$name" | grep -Eqx '[A-Za-z_][A-Za-z0-9_]*' \
    || fail "build_args item '$item' is not NAME or NAME=VALUE"
  if [ "$name" != "$item" ]; then set -- "$@" --build-arg "$item"
  elif eval "[ -n \"\${$name+set}\" ]"; then eval "set -- \"\$@\" --build-arg \"$name=\${$name}\""
  fi
done
set +f

say "building $ref from $IMAGE_BUILD_DOCKERFILE (context $IMAGE_BUILD_CONTEXT)"
started="$(date +%s)"
# tee keeps the log live; the exit status travels through a file because a POSIX pipeline drops it.
{ if buildah build "$@" "$IMAGE_BUILD_CONTEXT"; then rc=0; else rc=$?; fi; echo "$rc" > "$work/rc"; } 2>&1 \
  | tee "$work/build.log"
# A failed build is never retried here: buildah already retried its pulls (--retry), and what is left (a bad
# Dockerfile, a failing RUN step, a missing base image, missing privileges) fails the same way again.
if [ "$(cat "$work/rc")" != 0 ]; then
  # A RUN step that could not use the pipeline's package index: say so, naming it (not the image registry).
  if [ -n "$index" ] && grep -F "$host" "$work/build.log" | grep -Eqi ' 401|401 |unauthorized| 403|forbidden'; then
    fail "a RUN step was refused by the package index $index (HTTP 401/403): check PYTHON_CI_INDEX_USERNAME and PYTHON_CI_INDEX_PASSWORD; nothing was pushed"
  fi
  # pip hides an index's 401 behind "from versions: none": name the index and both causes.
  if [ -n "$index" ] && grep -q 'from versions: none' "$work/build.log"; then
    fail "a RUN step found no version of $(grep -o 'requirement [^ ]*' "$work/build.log" | tail -n 1 | cut -d' ' -f2) on the package index $index (pip says the same when the index refuses the login): check PYTHON_CI_INDEX_USERNAME, PYTHON_CI_INDEX_PASSWORD and the index's packages; nothing was pushed"
  fi
  if [ -n "$index" ] && grep -Eqi 'certificate verify failed|invalid peer certificate|UnknownIssuer|self.signed certificate' "$work/build.log"; then
    fail "a RUN step does not trust the certificate of the package index $index: set PYTHON_CI_CA_BUNDLE or ca_bundle; nothing was pushed"
  fi
  case "$(classify "$work/build.log")" in
    privilege) fail "$(privilege_hint)" ;;
    unknown)
      missing="$(grep -Ei 'manifest unknown|name unknown|repository name not known' "$work/build.log" | tail -n 1)"
      fail "a base image named in FROM was not found, nothing was pushed: $missing" ;;
    auth) fail "the registry refused the credentials while pulling a base image; nothing was pushed" ;;
    *) fail "buildah build failed, nothing was pushed: $(last_line "$work/build.log")" ;;
  esac
fi
built="$(date +%s)"

# The SBOM of the Python distributions the image's own python3 sees (python_ci/image_sbom.py, run in a working
# container of the image with its Env, USER and the build's isolation), made before the push: a failure leaves
# nothing pushed. An image without python3 (or older than 3.8) gets a warning and no SBOM.
SBOM=ci-reports/image-sbom.cdx.json
sbom=""
if [ "$IMAGE_BUILD_SBOM" = true ]; then
  # The script and its output share one folder, mounted writable for the image's USER. The SBOM goes to a file:
  # buildah 1.28's chroot `run` was seen here to drop a quickly exiting process's output under load.
  mkdir "$work/sbom"
  cp "${0%/*}/image_sbom.py" "$work/sbom/image_sbom.py"
  chmod 0777 "$work/sbom" && chmod 0644 "$work/sbom/image_sbom.py"
  ctr="$(buildah from --pull=never --quiet "$ref")" || fail "image SBOM: no working container of $ref; nothing was pushed"
  trap 'buildah rm "$ctr" >/dev/null 2>&1; rm -rf "$work"' EXIT
  for _ in 1 2; do
    if buildah run "--isolation=$IMAGE_BUILD_ISOLATION" --volume "$work/sbom:/tmp/python-ci-sbom" "$ctr" -- python3 \
      /tmp/python-ci-sbom/image_sbom.py "$image" "$tag" /tmp/python-ci-sbom/sbom.json </dev/null 2>"$work/sbom.err"
    then rc=0; else rc=$?; fi
    # A failure that says nothing but buildah's own "exit status N" (the output lost as above) is run again once.
    if [ "$rc" = 0 ] || grep -Ev '^(subprocess exited with status|process exited with error|Error: exit status)' \
      "$work/sbom.err" | grep -q .; then break; fi
  done
  buildah rm "$ctr" >/dev/null 2>&1 || say "image SBOM: could not remove the working container $ctr"
  trap 'rm -rf "$work"' EXIT
  mv "$work/sbom/sbom.json" "$work/sbom.json" 2>/dev/null || true
  if [ "$rc" = 0 ] && ! grep -qs '"bomFormat": "CycloneDX"' "$work/sbom.json"; then
    fail "image SBOM: python3 in the image wrote no SBOM; nothing was pushed"
  elif [ "$rc" = 0 ]; then
    sbom="$SBOM"
    say "image SBOM: $(grep -c '"purl": "pkg:pypi/' "$work/sbom.json") Python distributions ($(($(date +%s) - built)) s)"
  elif [ "$rc" = 3 ]; then
    say "warning: python3 in the image is older than 3.8: no image SBOM"
  elif grep -Eq 'executable file not found|"python3": .*[Nn]o such file' "$work/sbom.err"; then
    say "warning: no python3 in the image: no image SBOM"
  else
    cat "$work/sbom.err" >&2
    fail "image SBOM: python3 in the image failed (exit $rc): $(last_line "$work/sbom.err"); nothing was pushed (image_sbom: false builds without it)"
  fi
fi

pushing="$(date +%s)"
attempt "push $ref" /dev/null buildah push "$tls" --retry 0 --digestfile "$work/digest" "$ref" "docker://$ref"
digest="$(cat "$work/digest")"
if [ -n "$sbom" ]; then
  # The image's package URL gets its version, the manifest digest the push made (purl spec, type oci: `:` as %3A).
  mkdir -p "${SBOM%/*}"
  last="${image##*/}"
  sed "s|\"pkg:oci/$last?|\"pkg:oci/$last@$(printf '%s' "$digest" | sed 's/:/%3A/')?|" "$work/sbom.json" > "$SBOM"
fi
# Last: later jobs get a dotenv only from a job that did everything.
printf 'IMAGE_REF=%s\nIMAGE_NAME=%s\nIMAGE_TAG=%s\nIMAGE_DIGEST=%s\nIMAGE_SBOM=%s\n' "$ref" "$image" "$tag" "$digest" \
  "$sbom" > image-build.env
say "pushed $ref ($digest); build $((built - started)) s, SBOM $((pushing - built)) s, push $(($(date +%s) - pushing)) s"
