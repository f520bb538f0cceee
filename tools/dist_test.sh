#!/usr/bin/env bash
# Modified from MMDetection 3.3 tools/dist_test.sh (Apache-2.0, OpenMMLab).
# Distributed testing: tools/dist_test.sh CONFIG CHECKPOINT N [test.py args...]
# Same process model as dist_train.sh (NCCL on GPUs, gloo on CPU processes otherwise).
set -e
if [ $# -lt 3 ]; then
    echo "usage: $0 CONFIG CHECKPOINT NUM_PROCESSES [test.py options]" >&2
    exit 2
fi
exec bash "$(dirname "$0")/dist_run.sh" test.py "$3" "$1" "$2" "${@:4}"
