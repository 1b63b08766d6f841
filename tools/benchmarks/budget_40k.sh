#!/usr/bin/env bash
# The published budget on one GPU: full supervision, prior-only, PAL and GSACP-Final at 40k
# iterations of batch 16 (about 400 epochs of SIRST3 train), each trained with the GPU switches
# of configs/_base_/gpu_fast.py (from the packed split in memory, except PAL) and its final
# checkpoint tested on test_SIRST3 and its three parts.
#
#   tools/benchmarks/budget_40k.sh OUT_DIR [--methods "full_sup gsacp_final"] [--cpu-smoke]
#
# OUT_DIR (new) receives quality.md (the field's metrics, one row per method), times.md (train
# and test seconds per method), quality.json, env.txt and each method's run. The work goes to
# OUT_DIR.partial and is moved to OUT_DIR only once every method is tested: an existing OUT_DIR
# is never touched (the script refuses it), and running the same command again after an
# interruption resumes OUT_DIR.partial (finished methods kept, a cut run from its last
# checkpoint).
#
# Environment:
#   PYTHON      the interpreter (default: python)
#   WHEELS      a folder of wheels: install the missing requirements from it, offline
#               (pip --no-index --find-links; the installed PyTorch is left as it is)
#   DATA_ROOT   SIRST3 (default: data/SIRST3, else ../shared/data/SIRST3)
#   PACK_FILE   packed train split (default: data/packed/SIRST3_train_centroid.npz), written
#               from DATA_ROOT when absent
#   BUDGET_CPU_SMOKE=1   same as --cpu-smoke: the same commands on the CPU, on a synthetic set
#               (DATA_ROOT, or one made in OUT_DIR), SMOKE_ITERS iterations (default 4) of
#               batch 2, fused AdamW off. A check of the path, not of the methods.
#
# Exit status: 0 with OUT_DIR written; 2 on a problem to fix (named on one line); otherwise
# the failing command's (the benchmark names the log of a failed training or test).
set -euo pipefail

die() {
    echo "budget_40k.sh: error: $*" >&2
    exit 2
}

usage() {
    echo 'tools/benchmarks/budget_40k.sh OUT_DIR [--methods "full_sup gsacp_final"] [--cpu-smoke]'
}

OUT=''
METHODS='all'
SMOKE="${BUDGET_CPU_SMOKE:-0}"
while [[ $# -gt 0 ]]; do
    case "$1" in
        --cpu-smoke) SMOKE=1 ;;
        --methods)
            [[ $# -ge 2 ]] || die '--methods needs a value (e.g. "full_sup gsacp_final")'
            METHODS="$2"
            shift
            ;;
        -h | --help)
            usage
            exit 0
            ;;
        -*) die "unknown option $1; usage: $(usage)" ;;
        *)
            [[ -z "$OUT" ]] || die "one output folder only (got $OUT and $1)"
            OUT="$1"
            ;;
    esac
    shift
done
[[ -n "$OUT" ]] || die "no output folder; usage: $(usage)"
[[ "$SMOKE" == 0 || "$SMOKE" == 1 ]] || die "BUDGET_CPU_SMOKE must be 0 or 1, got $SMOKE"
# Paths given by the caller are read from the caller's folder; the defaults from the repository.
absolute() {
    if [[ -z "$1" || "$1" == /* ]]; then echo "$1"; else echo "$PWD/$1"; fi
}
OUT="$(absolute "$OUT")"
OUT="${OUT%/}"
DATA_ROOT="$(absolute "${DATA_ROOT:-}")"
PACK_FILE="$(absolute "${PACK_FILE:-}")"
WHEELS="$(absolute "${WHEELS:-}")"
PARTIAL="$OUT.partial"
[[ ! -e "$OUT" ]] || die "$OUT exists; it is never replaced: remove it or name another folder"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python}"
command -v "$PYTHON" > /dev/null || die "no interpreter $PYTHON (set PYTHON)"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
"$PYTHON" -c 'import torch' 2> /dev/null || die "$PYTHON has no PyTorch; install it first"

if [[ -n "$WHEELS" ]]; then
    [[ -d "$WHEELS" ]] || die "WHEELS=$WHEELS is not a folder"
    echo "installing the missing requirements from $WHEELS (offline)"
    # torch is left out: the machine's own build (CUDA) stays.
    grep -Ev '^torch([=<>!~ ]|$)' requirements/runtime.txt |
        "$PYTHON" -m pip install --no-index --find-links "$WHEELS" -r /dev/stdin
    # --no-deps: mmcv-lite's metadata asks for the official mmengine (requirements.txt).
    "$PYTHON" -m pip install --no-index --find-links "$WHEELS" --no-deps -r requirements/mm-fork.txt
fi
"$PYTHON" -c 'import mmengine, mmseg, mmcv, mmgsacp' ||
    die "the requirements are not installed: give WHEELS=DIR (offline) or pip install -r requirements.txt"

if [[ "$SMOKE" == 1 ]]; then
    # The CPU, whatever the machine has.
    export CUDA_VISIBLE_DEVICES=''
    SET='gpu40k-synthetic'
    SPLIT='img_idx/train_synthetic.txt'
    ITERS="${SMOKE_ITERS:-4}"
    OPTIONS=(
        "train_cfg.max_iters=$ITERS"
        train_dataloader.batch_size=2
        optim_wrapper.optimizer.fused=False
    )
    for loader in train_dataloader val_dataloader test_dataloader; do
        OPTIONS+=("$loader.num_workers=0" "$loader.persistent_workers=False")
    done
else
    "$PYTHON" -c 'import sys, torch; sys.exit(0 if torch.cuda.device_count() > 0 else 1)' ||
        die "no CUDA device visible to PyTorch (torch.cuda.device_count() is 0; \
CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES-unset}); for a tiny CPU run of the same commands \
use --cpu-smoke or BUDGET_CPU_SMOKE=1"
    SET='gpu40k'
    SPLIT='img_idx/train_SIRST3.txt'
    OPTIONS=()
fi

# A partial folder of the other kind of run is not resumed into this one.
mkdir -p "$PARTIAL"
MODE="set=$SET smoke=$SMOKE"
if [[ -f "$PARTIAL/mode.txt" ]]; then
    [[ "$(cat "$PARTIAL/mode.txt")" == "$MODE" ]] ||
        die "$PARTIAL holds an unfinished run of another kind ($(cat "$PARTIAL/mode.txt")); remove it"
    echo "resuming the unfinished run in $PARTIAL"
else
    echo "$MODE" > "$PARTIAL/mode.txt"
fi

if [[ -n "$DATA_ROOT" ]]; then
    :
elif [[ "$SMOKE" == 1 ]]; then
    DATA_ROOT="$PARTIAL/data/synthetic"
    [[ -f "$DATA_ROOT/$SPLIT" ]] ||
        "$PYTHON" tools/dataset_converters/make_synthetic.py "$DATA_ROOT" --num-train 8 \
            --num-test 3 --size 64 64 --overwrite
elif [[ -d data/SIRST3 ]]; then
    DATA_ROOT='data/SIRST3'
else
    DATA_ROOT='../shared/data/SIRST3'
fi
[[ -f "$DATA_ROOT/$SPLIT" ]] || die "no data set at $DATA_ROOT ($SPLIT missing); set DATA_ROOT"

if [[ -n "$PACK_FILE" ]]; then
    :
elif [[ "$SMOKE" == 1 ]]; then
    PACK_FILE="$PARTIAL/packed/synthetic_train_centroid.npz"
else
    PACK_FILE='data/packed/SIRST3_train_centroid.npz'
fi
if [[ ! -f "$PACK_FILE" ]]; then
    echo "packing $DATA_ROOT $SPLIT into $PACK_FILE"
    "$PYTHON" tools/dataset_converters/pack_split.py "$DATA_ROOT" --split "$SPLIT" \
        --point-type centroid --out "$PACK_FILE"
fi

{
    echo "commit $(git -C "$ROOT" rev-parse HEAD 2> /dev/null || echo unknown)"
    echo "$MODE data_root=$DATA_ROOT pack_file=$PACK_FILE methods=$METHODS"
    "$PYTHON" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda,
"device", torch.cuda.get_device_name(0) if torch.cuda.device_count() else "cpu")'
} > "$PARTIAL/env.txt"
cat "$PARTIAL/env.txt"

BENCH=(
    "$PYTHON" tools/benchmarks/bench_quality.py --config-set "$SET" --methods "$METHODS"
    --data-root "$DATA_ROOT" --work-dir "$PARTIAL" --pack-file "$PACK_FILE"
)
if [[ ${#OPTIONS[@]} -gt 0 ]]; then
    BENCH+=(--cfg-options "${OPTIONS[@]}")
fi
"${BENCH[@]}"

# Every method asked for must have its row before the results are published.
"$PYTHON" - "$PARTIAL" "$SET" "$METHODS" << 'EOF'
import sys

from mmgsacp.benchmarks.quality import missing_methods

missing = missing_methods(*sys.argv[1:])
if missing:
    sys.exit(f'budget_40k.sh: error: no results for {", ".join(missing)} in {sys.argv[1]}')
EOF

[[ ! -e "$OUT" ]] || die "$OUT appeared during the run; the results stay in $PARTIAL"
mv -T "$PARTIAL" "$OUT"
"$PYTHON" - "$OUT" "$PARTIAL" << 'EOF'
import sys

from mmgsacp.benchmarks.quality import relocate_results

relocate_results(*sys.argv[1:])
EOF
echo "results in $OUT:"
cat "$OUT/quality.md" "$OUT/times.md"
