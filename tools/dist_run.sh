#!/usr/bin/env bash
# Modified from MMDetection 3.3 tools/dist_train.sh (Apache-2.0, OpenMMLab).
# The launcher behind the dist_*.sh scripts: tools/dist_run.sh TOOL NUM_PROCESSES [TOOL args...]
# Starts NUM_PROCESSES copies of tools/TOOL on this node through torch.distributed.run with
# --launcher pytorch: one per GPU with NCCL, or CPU processes with gloo where no GPU is present.
# Multi-node: set NNODES, NODE_RANK, MASTER_ADDR (and PORT) on every node.
# The launcher's process becomes torch.distributed.run (exec): SIGINT / SIGTERM to it end every
# rank, and so does a SIGKILL (each rank asks Linux for SIGTERM when its launcher dies, see
# mmdet_tde.utils.cli.end_with_launcher). `kill -- -PID` ends the whole process group.
set -e
TOOL=$1
NPROC=$2
TOOLS_DIR="$(cd "$(dirname "$0")" && pwd)"
PYTHONPATH="$TOOLS_DIR/..":$PYTHONPATH \
exec "${PYTHON:-python}" -m torch.distributed.run \
    --nnodes="${NNODES:-1}" \
    --node_rank="${NODE_RANK:-0}" \
    --master_addr="${MASTER_ADDR:-127.0.0.1}" \
    --nproc_per_node="$NPROC" \
    --master_port="${PORT:-29500}" \
    "$TOOLS_DIR/$TOOL" "${@:3}" --launcher pytorch
