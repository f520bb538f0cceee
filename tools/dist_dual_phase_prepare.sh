#!/usr/bin/env bash
# Distributed dual-phase preparation: tools/dist_dual_phase_prepare.sh CONFIG CHECKPOINT N [args]
# Same process model as dist_train.sh (NCCL on GPUs, gloo on CPU processes otherwise).
set -e
if [ $# -lt 3 ]; then
    echo "usage: $0 PHASE1_CONFIG PHASE1_CHECKPOINT NUM_PROCESSES [dual_phase_prepare.py options]" >&2
    exit 2
fi
exec bash "$(dirname "$0")/dist_run.sh" dual_phase_prepare.py "$3" "$1" "$2" "${@:4}"
