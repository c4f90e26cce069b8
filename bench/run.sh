#!/usr/bin/env bash
# Fleet-convergence benchmark (docs/performance.md): bench/run.sh [--quick] [--n 50,200,1000] [--forks 10,50] ...
# Runs in the project environment; the plot needs matplotlib (in .venv, or a Python named by BENCH_PLOT_PYTHON).
# Mitogen and py-spy (bench/requirements.txt) go to .cache/bench-tools, outside the project venv.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
make -s collection
# shellcheck source=/dev/null
source scripts/env.sh
tools=.cache/bench-tools
if ! cmp -s bench/requirements.txt "$tools/requirements.txt"; then
  rm -rf "$tools"
  python3 -m pip install --quiet --target "$tools" -r bench/requirements.txt
  cp bench/requirements.txt "$tools/requirements.txt"
fi
exec python3 bench/run.py "$@"
