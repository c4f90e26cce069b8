#!/usr/bin/env bash
# Fleet-convergence benchmark (docs/performance.md): bench/run.sh [--quick] [--n 50,200,1000] [--forks 10,50] ...
# Runs in the project environment; the plot needs matplotlib (in .venv, or a Python named by BENCH_PLOT_PYTHON).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
make -s collection
# shellcheck source=/dev/null
source scripts/env.sh
exec python3 bench/run.py "$@"
