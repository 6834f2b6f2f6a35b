# shellcheck shell=bash
# Shared by kubesync's build recipes (sourced by build-<tool>, never run by itself).
#
# Every program kubesync runs beside Python is built here, pinned, from the Go module proxy: the
# machines reach no download site, and a binary built from a pinned module version is the same
# binary on every machine. Each recipe installs into $TOOLS_ROOT/<tool>-<version>/bin with a
# RECIPE stamp; a cached install whose stamp matches is reused, any other is rebuilt. The build
# runs in a private work dir (its own GOMODCACHE, GOCACHE and HOME) that is removed on exit, so a
# build neither reads nor fills the user's Go caches and leaves nothing behind but the binary.
set -euo pipefail

CACHE_ROOT="${KUBESYNC_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kubesync}"
# KUBESYNC_TOOLS_ROOT pins the folder of the tool installs (the tests set it before they move HOME).
TOOLS_ROOT="${KUBESYNC_TOOLS_ROOT:-$CACHE_ROOT/tools}"
RECIPE_SCRIPT="$(basename "$0")"
GO_MIN=1.26
# `build-<tool> --stamp` prints "<binary path><TAB><RECIPE stamp>" and builds nothing (kubesync.tools and its tests).
case "${1:-}" in
  --stamp) MODE=stamp ;;
  "") MODE=build ;;
  *) echo "usage: $(basename "$0") [--stamp]" >&2; exit 2 ;;
esac

log() { echo "$RECIPE_SCRIPT: $*" >&2; }
die() { log "error: $*"; exit 1; }
seconds_since() { echo $(( $(date +%s) - $1 )); }

# tool_paths TOOL VERSION: sets PREFIX (the install) and BIN (its bin/ folder).
tool_paths() {
  PREFIX="$TOOLS_ROOT/$1-$2"
  BIN="$PREFIX/bin"
}

# is_cached RECIPE NAME...: every binary is in $BIN and the stamp matches this recipe.
is_cached() {
  local recipe="$1"; shift
  local b
  for b in "$@"; do [ -x "$BIN/$b" ] || return 1; done
  [ "$(cat "$BIN/RECIPE" 2>/dev/null)" = "$recipe" ]
}

# exit_if_cached RECIPE NAME...: the second run of a recipe does nothing, and says so.
exit_if_cached() {
  if is_cached "$@"; then
    echo "$RECIPE_SCRIPT: cached in $BIN (nothing to do)"
    exit 0
  fi
}

# lock_tool TOOL: one build of a tool at a time (a second waits, then finds it cached), so two
# sessions asking for the same tool never install over each other.
lock_tool() {
  mkdir -p "$TOOLS_ROOT"
  command -v flock >/dev/null 2>&1 || return 0
  exec 9>"$TOOLS_ROOT/.$1.lock"
  if ! flock -n 9; then
    log "another build of $1 is running; waiting for it"
    flock 9
  fi
}

# require_go: sets GO to a Go toolchain >= GO_MIN, or stops with the one error that says what is missing.
require_go() {
  GO="${GO:-$(command -v go || true)}"
  [ -n "$GO" ] || [ ! -x /usr/local/go/bin/go ] || GO=/usr/local/go/bin/go
  [ -n "$GO" ] || die "the Go toolchain is missing (no \`go\` on PATH or in /usr/local/go/bin); $TOOL $VERSION needs Go >= $GO_MIN"
  command -v "$GO" >/dev/null 2>&1 || die "GO=$GO is not a program; $TOOL $VERSION needs Go >= $GO_MIN"
  local have
  have=$(GOTOOLCHAIN=local "$GO" env GOVERSION 2>/dev/null | sed 's/^go//') || true
  [ -n "$have" ] || die "\`$GO env GOVERSION\` gave no version; $TOOL $VERSION needs Go >= $GO_MIN"
  [ "$(printf '%s\n' "$GO_MIN" "$have" | sort -V | head -n1)" = "$GO_MIN" ] \
    || die "Go $have is too old; $TOOL $VERSION needs Go >= $GO_MIN ($GO)"
  log "using Go $have ($GO)"
}

# proxy_path MODULE: the module path as the proxy spells it (upper case letters become !lower).
proxy_path() { printf '%s' "$1" | sed 's/[A-Z]/!\L&/g'; }

# require_proxy MODULE VERSION: sets PROXY, or stops when the Go module proxy cannot serve MODULE@VERSION.
require_proxy() {
  PROXY="$(GOTOOLCHAIN=local "$GO" env GOPROXY | cut -d, -f1)"
  case "$PROXY" in
    off|direct|"") die "GOPROXY is '$PROXY'; building $TOOL needs the Go module proxy (for example GOPROXY=https://proxy.golang.org)" ;;
  esac
  curl -fsS -m 30 -o /dev/null "$PROXY/$(proxy_path "$1")/@v/$2.info" \
    || die "cannot reach the Go module proxy ($PROXY) for $1@$2"
}

# go_workdir: a private work dir for this build ($WORK), removed on exit however the build ends.
go_workdir() {
  mkdir -p "$TOOLS_ROOT"
  WORK=$(mktemp -d "$TOOLS_ROOT/.build-$TOOL-XXXXXX")
  mkdir -p "$WORK/home" "$WORK/gobin"
  export GOMODCACHE="$WORK/modcache" GOCACHE="$WORK/gocache" GOPATH="$WORK/gopath" HOME="$WORK/home"
  export GOBIN="$WORK/gobin" GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-buildvcs=false" GONOSUMDB= GOPRIVATE=
  trap 'chmod -R u+w "$WORK" 2>/dev/null || true; rm -rf "$WORK"' EXIT
}

# go_install: `go install $PACKAGE@v$VERSION`, so the tool's own go.mod decides every dependency
# version, as its maintainers tested it. Leaves the binary in $GOBIN.
go_install() {
  local start
  start=$(date +%s)
  log "downloading and building $PACKAGE@v$VERSION${BUILD_MINUTES:+ (about $BUILD_MINUTES on 2 idle cores)}"
  "$GO" install -trimpath -ldflags "$LDFLAGS" "$PACKAGE@v$VERSION" >"$WORK/build.log" 2>&1 \
    || { log "last lines of go install:"; tail -n 40 "$WORK/build.log" >&2; die "go install $PACKAGE@v$VERSION failed (its last lines are above)"; }
  log "built in $(seconds_since "$start") s"
}

# require_static FILE: kubesync copies these binaries into images and runs them anywhere.
require_static() {
  if readelf -l "$1" 2>/dev/null | grep -q 'Requesting program interpreter'; then
    die "$1 is dynamically linked (CGO_ENABLED=0 was not honoured)"
  fi
}

# install_tool RECIPE NAME...: stamps and moves the built binaries from $GOBIN into $BIN in one rename.
install_tool() {
  local recipe="$1"; shift
  local b
  mkdir -p "$PREFIX"
  rm -rf "$BIN.new"
  mkdir -p "$BIN.new"
  for b in "$@"; do
    [ -x "$GOBIN/$b" ] || die "the build made no $b in $GOBIN"
    require_static "$GOBIN/$b"
    install -m 0755 "$GOBIN/$b" "$BIN.new/$b"
  done
  echo "$recipe" > "$BIN.new/RECIPE"
  rm -rf "$BIN"
  mv "$BIN.new" "$BIN"
  log "installed into $BIN ($(du -sh "$BIN" | cut -f1)); build tree and module cache removed"
}

# check_version FILE: the binary runs and reports the pinned version ($VERSION_ARGS, $VERSION_WANT).
check_version() {
  local out
  out=$("$1" "${VERSION_ARGS[@]}" 2>&1 </dev/null) || die "\`$1 ${VERSION_ARGS[*]}\` failed: $(printf '%s' "$out" | tail -n 3)"
  printf '%s' "$out" | grep -qF -- "$VERSION_WANT" \
    || die "\`$1 ${VERSION_ARGS[*]}\` does not report $VERSION_WANT: $(printf '%s' "$out" | head -n 3)"
  log "reports: $(printf '%s' "$out" | head -n 1)"
}

# build_go_tool: the whole recipe of a one-binary Go tool, from the variables the recipe set:
# TOOL VERSION (no leading v) MODULE PACKAGE LDFLAGS RECIPE VERSION_ARGS VERSION_WANT [BUILD_MINUTES].
build_go_tool() {
  local start
  tool_paths "$TOOL" "$VERSION"
  if [ "$MODE" = stamp ]; then printf '%s\t%s\n' "$BIN/$TOOL" "$RECIPE"; exit 0; fi
  exit_if_cached "$RECIPE" "$TOOL"
  lock_tool "$TOOL"
  exit_if_cached "$RECIPE" "$TOOL"
  start=$(date +%s)
  require_go
  require_proxy "$MODULE" "v$VERSION"
  go_workdir
  go_install
  check_version "$GOBIN/$TOOL"
  install_tool "$RECIPE" "$TOOL"
  log "$TOOL $VERSION ready in $(seconds_since "$start") s (load average $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?'))"
}
