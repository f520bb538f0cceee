#!/usr/bin/env bash
# Check one MMDetection stack in a virtual environment of its own: install it there with
# tools/install.sh (from scratch the first time), then run the test suite with tools/run_tests.sh
# and, with DEMO=1, the demo with tools/run_demo.sh. CI runs the default stack in the active
# environment; this is the documented check of the other one (docs/install_matrix.md).
#
#   bash .dev_scripts/check_stack.sh onedl               # the maintained fork: install + tests
#   DEMO=1 SEED=0 bash .dev_scripts/check_stack.sh onedl # ... and the demo, seed 0
#   bash .dev_scripts/check_stack.sh onedl -m "not slow" # extra arguments go to pytest
#
# Environment: VENV (work_dirs/venv_<stack>), BASE_PYTHON (python3, makes the environment),
# DEMO, and what run_demo.sh reads (SEED, EPOCHS, WORK_DIR: work_dirs/minilvis_demo_<stack>).
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
if [ $# -lt 1 ]; then
    echo "usage: $0 openmmlab|onedl [pytest arguments...]" >&2
    exit 2
fi
export MMDET_STACK=$1
shift
cd "$REPO"
VENV=${VENV:-work_dirs/venv_$MMDET_STACK}
if [ ! -x "$VENV/bin/python" ]; then
    echo "[check_stack] creating the virtual environment $VENV"
    "${BASE_PYTHON:-python3}" -m venv "$VENV"
fi
VENV=$(cd "$VENV" && pwd)
# tools/install.sh refuses an unknown stack by name, before it installs anything
export PYTHON="$VENV/bin/python" PATH="$VENV/bin:$PATH"

bash tools/run_tests.sh "$@"
if [ -n "${DEMO:-}" ]; then
    WORK_DIR=${WORK_DIR:-work_dirs/minilvis_demo_$MMDET_STACK} bash tools/run_demo.sh
fi
