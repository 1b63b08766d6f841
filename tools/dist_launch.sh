#!/usr/bin/env bash
# Usage: tools/dist_launch.sh GPUS SCRIPT [SCRIPT args...]
# Runs SCRIPT on GPUS processes per machine with torchrun (what dist_train.sh and dist_test.sh
# call). Multi-machine: set NNODES, NODE_RANK, MASTER_ADDR and PORT.
GPUS=$1
shift 1
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
ROOT="$(dirname "$0")/.."
# The repository's virtual environment when there is one, else the python on PATH.
PYTHON=python
if [ -x "$ROOT/.venv/bin/python" ]; then
    PYTHON="$ROOT/.venv/bin/python"
fi
PYTHONPATH="$ROOT":$PYTHONPATH \
exec "$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" --node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$GPUS" --master_port="$PORT" "$@"
