#!/usr/bin/env bash
# Distributed one-pass alpha sweep:
#   tools/dist_sweep_alpha.sh CONFIG CHECKPOINT N [sweep_alpha.py args...]
# Same process model as dist_test.sh; the metrics are gathered over all processes.
set -e
if [ $# -lt 3 ]; then
    echo "usage: $0 CONFIG CHECKPOINT NUM_PROCESSES [sweep_alpha.py options]" >&2
    exit 2
fi
exec bash "$(dirname "$0")/dist_run.sh" sweep_alpha.py "$3" "$1" "$2" "${@:4}"
