# Shared by image_build.sh and image_push.sh (sourced, not a command): one-line messages, the tools check, and
# registry operations retried only when their error is transient.
#
# The sourcing script sets JOB (the job's name in messages), RETRIES, RETRY_DELAY and WORK (a private temp dir).
# shellcheck shell=sh

say() { printf '%s: %s\n' "$JOB" "$*" >&2; }
fail() { say "$*"; exit 1; }

# require_tools TOOL...: fail at once, naming every missing tool, when the job's image lacks one.
require_tools() {
  missing=""
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
  done
  if [ -n "$missing" ]; then
    fail "the job's image has no${missing}; set the component's \`image\` input to an image that provides it"
  fi
}

# whole_numbers VALUE...: they go through shell arithmetic, which must never see an expression.
whole_numbers() {
  for number in "$@"; do
    case "$number" in '' | *[!0-9]*) fail "retries and retry_delay must be whole numbers, not '$number'" ;; esac
  done
}

# last_line FILE: the last non-blank line of FILE (what a failed tool said last).
last_line() { grep -v '^[[:space:]]*$' "$1" | tail -n 1; }

# classify FILE: the kind of error FILE (a tool's output) reports, as one word:
#   privilege  the container may not make the user namespace buildah needs (never retried)
#   auth       the registry refused the credentials (never retried)
#   unknown    the image or repository does not exist (never retried)
#   tls        the TLS handshake or certificate check failed (never retried)
#   transient  network errors, timeouts, HTTP 429 and 5xx: worth another attempt
#   other      anything else (a bad Dockerfile, a failed RUN step): never retried
# The texts are those of containers/image and buildah (Go net/http errors, registry error codes of the OCI
# distribution spec: UNAUTHORIZED, DENIED, MANIFEST_UNKNOWN, NAME_UNKNOWN).
classify() {
  if grep -Eqi 'unshare\(CLONE_NEW|CLONE_NEWUSER|cannot re-exec process' "$1"; then
    echo privilege
  elif grep -Eqi 'unauthorized|authentication required|invalid username/password|denied: |access denied|insufficient_scope' "$1"; then
    echo auth
  elif grep -Eqi 'manifest unknown|name unknown|repository name not known' "$1"; then
    echo unknown
  elif grep -Eqi 'x509:|certificate|tls: |server gave HTTP response to HTTPS client' "$1"; then
    echo tls
  elif grep -Eqi 'connection refused|connection reset|broken pipe|i/o timeout|timed out|timeout|no such host|network is unreachable|temporary failure|unexpected EOF|too many requests|service unavailable|bad gateway|internal server error|(^|[^0-9A-Za-z])(429|5[0-9][0-9])([^0-9A-Za-z]|$)' "$1"; then
    echo transient
  else
    echo other
  fi
}

# privilege_hint: what the runner must grant for buildah, as one sentence (docs/components/image-build.md).
privilege_hint() {
  printf '%s' "buildah may not create its user namespace in this container (unshare(CLONE_NEWUSER): Operation" \
    " not permitted, Docker's and containerd's default seccomp profile): run the job privileged (runner" \
    " \`privileged = true\`), or add CAP_SYS_ADMIN (\`cap_add = [\"SYS_ADMIN\"]\`), or use seccomp=unconfined" \
    " with storage_driver vfs; see the privileges section of docs/components/image-build.md"
}

# attempt WHAT STDIN CMD...: run CMD (stdin from the file STDIN); a transient error is retried RETRIES times in
# all, RETRY_DELAY seconds after the first failure and twice as long after each further one. Any other error
# fails the job at once with one line naming its kind and NOTHING_DONE (what the failure left untouched).
attempt() {
  what="$1"; input="$2"; shift 2; n=1; delay="$RETRY_DELAY"
  while :; do
    if "$@" <"$input" >"$WORK/out" 2>&1; then cat "$WORK/out"; return 0; fi
    cat "$WORK/out" >&2
    case "$(classify "$WORK/out")" in
      privilege) fail "$what: $(privilege_hint)" ;;
      auth) fail "$what: the registry refused the credentials; $NOTHING_DONE" ;;
      unknown) fail "$what: not found in the registry; $NOTHING_DONE" ;;
      tls) fail "$what: TLS failed (tls_verify, or the registry's CA in the image): $(last_line "$WORK/out")" ;;
      transient) ;;
      *) fail "$what: failed (not a transient error, not retried; $NOTHING_DONE): $(last_line "$WORK/out")" ;;
    esac
    if [ "$n" -ge "$RETRIES" ]; then
      fail "$what: failed after $n attempts ($NOTHING_DONE): $(last_line "$WORK/out")"
    fi
    say "$what: attempt $n failed, retrying in ${delay}s"
    sleep "$delay"; n=$((n + 1)); delay=$((delay * 2))
  done
}
