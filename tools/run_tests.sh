#!/usr/bin/env bash
# Install everything (quick no-op when already installed), lint, then run the whole test suite.
# Extra arguments go to pytest, e.g. `bash tools/run_tests.sh -m "not slow"`.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON=${PYTHON:-python3}
bash "$REPO/tools/install.sh"
cd "$REPO"
echo "[run_tests] lint: ruff check (ruff.toml)"
"$PYTHON" -m ruff check .
exec "$PYTHON" -m pytest tests -v --durations=15 "$@"
