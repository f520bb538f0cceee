#!/usr/bin/env bash
# Modified from MMDetection 3.3 tools/dist_train.sh (Apache-2.0, OpenMMLab).
# Distributed training: tools/dist_train.sh CONFIG N [train.py args...]
# N processes on this node: one per GPU with NCCL, or N CPU processes with gloo where no GPU is
# present. Multi-node: set NNODES, NODE_RANK, MASTER_ADDR (and PORT) on every node.
set -e
if [ $# -lt 2 ]; then
    echo "usage: $0 CONFIG NUM_PROCESSES [train.py options]" >&2
    exit 2
fi
exec bash "$(dirname "$0")/dist_run.sh" train.py "$2" "$1" "${@:3}"
