#!/usr/bin/env bash
# Open JupyterLab on the notebooks: `make lab`, or `scripts/lab.sh [jupyter args]`.
#
# - as root (containers, cloud shells) Jupyter refuses to start without
#   --allow-root: add it then;
# - JupyterLab's terminal must find `labkit`, `func-e`, `envoy` and `go`: put
#   the venv's bin first on PATH, and start terminals with an rc file that
#   puts it back after the user's own ~/.bashrc (a login shell's /etc/profile
#   would reset PATH otherwise);
# - everything after the script's name goes to `jupyter lab`
#   (`make lab JUPYTER_ARGS="--port 8899 --no-browser"`).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
bin="$(cd "$VENV/bin" && pwd)"
export PATH="$bin:$PATH"
export LABKIT_VENV_BIN="$bin"

args=(--ip 127.0.0.1 --notebook-dir notebooks
      "--ServerApp.terminado_settings={'shell_command': ['bash', '--rcfile', '$PWD/scripts/lab-shell.rc', '-i']}")
if [ "$(id -u)" = 0 ]; then
  args+=(--allow-root)
fi
exec "$bin/jupyter" lab "${args[@]}" "$@"
