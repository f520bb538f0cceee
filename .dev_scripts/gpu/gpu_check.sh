#!/usr/bin/env bash
# The GPU check, in one command on a machine with one NVIDIA GPU, a CUDA torch and nvcc but no
# network and none of mmcv / mmdet / mmengine: installs the kit of gpu_kit.sh (carried in
# gpu_kit/), builds mmcv 2.1.0 with CUDA ops for that GPU only, then
#   (a) trains the mini-LVIS Cascade Mask R-CNN with the TDE heads in fp32 and with --amp (at the
#       same time: the model is small), tests both, sweeps alpha on the fp32 one;
#   (b) times the TDE heads against the stock ones at the paper's size (R101-FPN, 1333x800,
#       1203 classes, 512 RoIs per image, 2 images) and the classifier alone under AMP;
#   (c) records both models' GPU memory peaks (and every training log's);
#   (d) runs dual-phase training with the TDE heads through the tools: split, phase I, the
#       prepare tool, phase II with the teacher, test (short: that it runs on the device).
# Every step is time-boxed against one deadline and publishes its results as soon as it ends, so
# a failing step leaves time and output for the others.
#
#   bash .dev_scripts/gpu/gpu_check.sh                 # on the GPU machine (gpu.md in
#                                                      # docs/benchmarks)
#   GPU_CHECK_CPU=1 bash .dev_scripts/gpu/gpu_check.sh # dry run here: tiny sizes on the CPU, with
#                                                      # the installed mmcv (no build); also --cpu
# The Python programs it runs are the .py files beside it; the machine's limits are named below.
#
# Writes only to $OUT (default work_dirs/gpu_check/out), the work folder GPU_CHECK_WORK
# (work_dirs/gpu_check) and the kit folder GPU_KIT (gpu_kit). $OUT gets summary.md (every step,
# its time and the key numbers), console.log, results.tar.gz (every log and result file) and the
# mmcv wheel built there, in parts of RETURN_PART_MIB at most (see gpu.md to reuse it).
# Environment: GPU_CHECK_BUDGET (seconds for the whole run, 560), GPU_CHECK_ITERS (training
# iterations, 300), GPU_CHECK_DP_ITERS (iterations of each dual-phase phase, 150),
# GPU_CHECK_BENCH (1; 0 skips the head benchmark, for a rerun that has its table), PYTHON
# (python3), MAX_JOBS (nproc), TORCH_CUDA_ARCH_LIST (9.0).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
cd "$REPO"

# --------------------------------------------- the GPU machine's limits (docs/benchmarks/gpu.md)
BUDGET=${GPU_CHECK_BUDGET:-560} # seconds for the whole run: the device stops a command at 600 s
RETURN_PART_MIB=15   # the device returns files of at most 16 MiB: results and wheel parts
WHEEL_MAX_MIB=45     # a larger built wheel is not sent back (3 parts)
GPU_ARCH=${TORCH_CUDA_ARCH_LIST:-9.0} # H100 / H200: mmcv's CUDA ops for this architecture only
GPU_PYTHON=${KIT_PYTHON_VERSION:-3.12} # the machine's Python, which the kit's wheels are for
STEP_MIN_S=20        # a step with less time than this left is skipped
STEP_GRACE_S=5       # kept between a step's limit and the deadline
BENCH_RESERVE_S=110  # the training chains end this long before the deadline: the benchmark's
FALLBACK_MIN_S=200   # time left needed to try the CPU-ops fallback after a failed CUDA build
# Each step's limit in seconds (none runs past the deadline either).
CAP_ENV=60 CAP_INSTALL=120 CAP_DEPS=60 CAP_DATA=150 CAP_CONFIG=30
CAP_MMCV_WHEEL=120 CAP_MMCV_BUILD=450 CAP_MMCV_REBUILD=400 CAP_MMCV_BUILD_CPU=240
CAP_MMCV_IMPORT=60 CAP_OPS=90
CAP_TRAIN=150 CAP_TEST=90 CAP_SWEEP=120 CAP_DP_CONFIGS=60 CAP_DP_PREPARE=120 CAP_BENCH=200

CPU_MODE=${GPU_CHECK_CPU:-0}
BENCH_ON=${GPU_CHECK_BENCH:-1}
for arg in "$@"; do
    case $arg in
        --cpu) CPU_MODE=1 ;;
        *) echo "usage: bash .dev_scripts/gpu/gpu_check.sh [--cpu]" >&2; exit 2 ;;
    esac
done

PYTHON=${PYTHON:-python3}
KIT=$(realpath -m "${GPU_KIT:-gpu_kit}")
WORK=$(realpath -m "${GPU_CHECK_WORK:-work_dirs/gpu_check}")
OUT=$(realpath -m "${OUT:-$WORK/out}")
RES=$WORK/results # every step's log and outputs, packed into $OUT/results.tar.gz
SITE=$WORK/site   # the kit's wheels and the built mmcv (pip --target; torch stays the image's)
START=$(date +%s)
DEADLINE=$((START + BUDGET))
# Keep a rerun on a warm machine cheap: $SITE (the built mmcv) survives, results do not.
rm -rf "$RES" "$WORK/runs" "$WORK/tmp"
mkdir -p "$OUT" "$RES" "$SITE" "$WORK/runs" "$WORK/tmp" "$WORK/mpl"
rm -f "$OUT"/summary.md "$OUT"/console.log "$OUT"/results.tar.gz "$OUT"/mmcv-*.whl.*
exec > >(tee -a "$OUT/console.log") 2>&1
echo "$([ "$CPU_MODE" = 1 ] && echo 'CPU dry run' || echo GPU)" >"$RES/mode"

# Nothing outside $OUT, $WORK and $KIT: no bytecode in the checkout, no caches in $HOME.
export PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 TMPDIR=$WORK/tmp MPLCONFIGDIR=$WORK/mpl
export PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1

if [ "$CPU_MODE" = 1 ]; then
    DEVICE=cpu ITERS=${GPU_CHECK_ITERS:-3} DP_ITERS=${GPU_CHECK_DP_ITERS:-2} BATCH=2 WORKERS=0
    LOG_INTERVAL=1
    NUM_TRAIN=12 NUM_VAL=4
    BENCH=(--device cpu --config configs/minilvis/cascade_baseline_r18_minilvis.py --depth 18
        --img-size 64 --img-width 96 --num-classes 18 --num-gts 2 --iters 1 --warmup 1
        --cls-rois 64 --cls-iters 2 --cls-autocast bf16)
else
    # 4 images an iteration: the demo's 2 processes x 2 images (lr 0.02)
    DEVICE=cuda ITERS=${GPU_CHECK_ITERS:-300} DP_ITERS=${GPU_CHECK_DP_ITERS:-150} BATCH=4
    WORKERS=4 LOG_INTERVAL=10
    NUM_TRAIN=455 NUM_VAL=150
    BENCH=(--device cuda --depth 101 --img-size 800 --img-width 1333 --batch-size 2
        --num-classes 1203 --num-gts 8 --test-max-per-img 300 --cls-rois 1024 --iters 10
        --warmup 2 --cls-iters 50 --cls-autocast fp16 bf16)
fi

stamp() { printf '%4ds' $(($(date +%s) - START)); }
say() { echo "[gpu_check $(stamp)] $*"; }

record() { # NAME STATUS SECONDS NOTE
    printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "${4:-}" >>"$RES/steps.tsv"
}

publish() { # summary.md and results.tar.gz in $OUT, replaced whole (steps may run in parallel)
    local tmp="$OUT/.results.$BASHPID.tmp"
    env -u PYTHONPATH "$PYTHON" "$HERE/gpu_check_summary.py" "$WORK" "$OUT/summary.md" \
        >>"$RES/summary.log" 2>&1 || say "summary failed (see summary.log)"
    # Not the checkpoints nor the sweep's detections (tens of MB), which the device would not
    # return. Logs, metrics, reports and plots.
    tar -czf "$tmp" -C "$WORK" --exclude='*.pth' --exclude='lvis.bbox.json' \
        --exclude='lvis.segm.json' results runs 2>/dev/null || true
    if (($(stat -c %s "$tmp") > RETURN_PART_MIB * 1024 * 1024)); then
        tar -czf "$tmp" -C "$WORK" results 2>/dev/null || true
    fi
    mv -f "$tmp" "$OUT/results.tar.gz"
}

# run_step NAME CAP COMMAND...: at most CAP seconds and never past the deadline (STEP_DEADLINE
# if set); output in $RES/NAME.log; status ok / failed (rc) / timeout / skipped in steps.tsv;
# publishes. Returns the command's status (1 when skipped), never stops the script.
run_step() {
    local name=$1 cap=$2
    shift 2
    local left=$((${STEP_DEADLINE:-$DEADLINE} - $(date +%s) - STEP_GRACE_S))
    local limit=$((cap < left ? cap : left))
    if ((limit < STEP_MIN_S)); then
        say "skip $name: no time left"
        record "$name" skipped 0 "no time left"
        return 1
    fi
    say ">>> $name (at most ${limit}s)"
    local t0 rc=0
    t0=$(date +%s)
    timeout -k 10 "$limit" "$@" >"$RES/$name.log" 2>&1 || rc=$?
    local dt=$(($(date +%s) - t0)) status=ok
    if ((rc == 124 || rc == 137)); then status=timeout; elif ((rc != 0)); then status=failed; fi
    record "$name" "$status" "$dt" "rc=$rc"
    say "<<< $name: $status after ${dt}s"
    if [ "$status" != ok ]; then tail -n 15 "$RES/$name.log" | sed "s/^/    [$name] /"; fi
    publish
    return $rc
}

skip_step() { # NAME REASON
    say "skip $1: $2"
    record "$1" skipped 0 "$2"
}

# ---------------------------------------------------------------- environment and the kit
env_report() {
    set +e
    nvidia-smi
    nvcc --version
    gcc --version | head -n 1
    nproc
    ninja --version || echo "no ninja on PATH: torch would compile one file at a time"
    "$PYTHON" "$HERE/env_report.py"
    "$PYTHON" -m pip list 2>/dev/null |
        grep -iE "^(numpy|matplotlib|scipy|setuptools|opencv|pillow|torch|torchvision|ninja) "
    return 0
}

install_kit() {
    local target=(--target "$SITE")
    if [ "$CPU_MODE" = 1 ]; then
        # Install for the GPU machine's Python, unused here: proves the kit is complete and that
        # its wheels fit CPython GPU_PYTHON manylinux x86_64; the runs use this machine's packages.
        target+=(--python-version "$GPU_PYTHON" --implementation cp --only-binary=:all:
            --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64
            --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64
            --platform manylinux2014_x86_64)
    fi
    ls "$KIT"/*.whl >/dev/null # an empty kit: run .dev_scripts/gpu/gpu_kit.sh first
    # --no-deps: the kit is the whole set (gpu_kit.sh checks); pip would otherwise also
    # install what the image has, as --target ignores installed packages.
    "$PYTHON" -m pip install --no-index --no-deps --no-compile --upgrade "${target[@]}" \
        $(ls "$KIT"/*.whl | grep -v '/mmcv-')
    ls "$SITE"
}

deps_check() { "$PYTHON" "$HERE/deps_check.py"; }

# -------------------------------------------------------------------------------- mmcv build
# build_mmcv cuda|cpu: mmcv 2.1.0's ops from the kit's source into $SITE. cuda: for this GPU's
# architecture only (GPU_ARCH) on every core. cpu: CPU ops only, the fallback.
build_mmcv() {
    local src=$WORK/mmcv-src
    rm -rf "$src" "$WORK/wheels"
    mkdir -p "$src" "$WORK/wheels"
    tar -xzf "$KIT"/mmcv-2.1.0.tar.gz -C "$src" --strip-components=1
    export MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-$(nproc)}
    # torch compiles in parallel only through ninja: the image has it beside its python
    PATH="$("$PYTHON" -c 'import os, sys; print(os.path.dirname(sys.executable))'):$PATH"
    ninja --version || echo "no ninja on PATH: torch would compile one file at a time"
    if [ "$1" = cuda ]; then
        export FORCE_CUDA=1 TORCH_CUDA_ARCH_LIST=$GPU_ARCH
    else
        # setup.py builds CUDA ops whenever torch sees a GPU: hide it
        export FORCE_CUDA=0 CUDA_VISIBLE_DEVICES=
    fi
    # --no-build-isolation: build against the image's torch, with the kit's setuptools<81
    # (on PYTHONPATH) whose pkg_resources setup.py imports.
    "$PYTHON" -m pip wheel --no-deps --no-build-isolation --no-index -v -w "$WORK/wheels" "$src"
    "$PYTHON" -m pip install --no-index --no-deps --no-compile --upgrade --target "$SITE" \
        "$WORK"/wheels/mmcv-*.whl
}

mmcv_import() { # fails unless the ops are there and run on the device (built with CUDA on a
    # GPU run). Not get_compiling_cuda_version: it crashed the first GPU run (gpu_ops.py asks it
    # in a child process).
    "$PYTHON" -c "import mmcv, torch; from mmcv.ops import nms; \
boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.]], device='$DEVICE'); \
_, keep = nms(boxes, torch.tensor([0.9, 0.8], device='$DEVICE'), 0.5); \
print('mmcv', mmcv.__version__, 'from', mmcv.__file__, 'nms on $DEVICE kept', keep.tolist())"
}

# The built wheel back to $OUT in parts of at most RETURN_PART_MIB:
# a later run carries it in gpu_kit/ and skips the build (docs/benchmarks/gpu.md).
export_wheel() {
    local wheel
    wheel=$(ls "$WORK"/wheels/mmcv-*.whl 2>/dev/null | head -n 1) || return 0
    [ -n "$wheel" ] || return 0
    local size
    size=$(stat -c %s "$wheel")
    say "built $(basename "$wheel"): $((size / 1024)) KiB"
    if ((size > WHEEL_MAX_MIB * 1024 * 1024)); then
        say "wheel too large to send back"
        return 0
    fi
    (cd "$OUT" && split -b "${RETURN_PART_MIB}M" -d -a 1 "$wheel" "$(basename "$wheel").part")
    sha256sum "$wheel" | sed "s|  .*/|  |" >"$OUT/$(basename "$wheel").sha256"
}

# --------------------------------------------------------------------------- mini-LVIS runs
# mini-LVIS with the generator alone (numpy and cv2), so that it is ready when mmcv's build ends.
make_data() {
    "$PYTHON" "$HERE/make_data.py" "$WORK/minilvis" --num-train "$NUM_TRAIN" --num-val "$NUM_VAL"
}

write_config() {
    "$PYTHON" "$HERE/train_config.py" "$WORK/minilvis_tde.py" --data-root "$WORK/minilvis" \
        --iters "$ITERS" --batch "$BATCH" --workers "$WORKERS" --log-interval "$LOG_INTERVAL"
}

train() { # NAME [--amp]
    "$PYTHON" tools/train.py "$WORK/minilvis_tde.py" --work-dir "$WORK/runs/$1" "${@:2}"
}

checkpoint_of() { cat "$WORK/runs/$1/last_checkpoint" 2>/dev/null; }

test_ckpt() { # NAME TRAIN_NAME
    "$PYTHON" tools/test.py "$WORK/minilvis_tde.py" "$(checkpoint_of "$2")" \
        --work-dir "$WORK/runs/$1"
}

sweep() { # NAME TRAIN_NAME
    "$PYTHON" tools/sweep_alpha.py "$WORK/minilvis_tde.py" "$(checkpoint_of "$2")" \
        --alphas 0 1 1.5 2 3 --work-dir "$WORK/runs/$1"
}

BENCH_ARGS="${BENCH[*]}" # arrays do not reach `bash -c`; the arguments have no spaces

# Dual-phase (the second method): split, phase I, the prepare tool, phase II with the teacher, test;
# the TDE-head variant, so that the phase-masked TDE classifier runs too. Iteration-based, DP_ITERS
# iterations a phase: a check that it runs on the device, not a result.
dp_configs() {
    mkdir -p "$WORK/dual_phase"
    "$PYTHON" tools/dual_phase_split.py "$WORK/minilvis/annotations/minilvis_v1_train.json" \
        --out "$WORK/dual_phase/split.json"
    "$PYTHON" "$HERE/dual_phase_configs.py" "$WORK/dual_phase" --data-root "$WORK/minilvis" \
        --split "$WORK/dual_phase/split.json" --iters "$DP_ITERS" --batch "$BATCH" \
        --workers "$WORKERS" --log-interval "$LOG_INTERVAL" \
        --teacher-checkpoint "$WORK/runs/train_dp_phase1/iter_$DP_ITERS.pth" \
        --prepared-dir "$WORK/runs/dp_prepare"
}
dp_train() { # PHASE
    "$PYTHON" tools/train.py "$WORK/dual_phase/$1.py" --work-dir "$WORK/runs/train_dp_$1"
}
dp_prepare() {
    "$PYTHON" tools/dual_phase_prepare.py "$WORK/dual_phase/phase1.py" \
        "$WORK/runs/train_dp_phase1/iter_$DP_ITERS.pth" --num-exemplars 10 \
        --out-dir "$WORK/runs/dp_prepare"
}
dp_test() {
    "$PYTHON" tools/test.py "$WORK/dual_phase/phase2.py" \
        "$WORK/runs/train_dp_phase2/iter_$DP_ITERS.pth" --work-dir "$WORK/runs/test_dp_phase2"
}
bench() {
    # shellcheck disable=SC2086
    "$PYTHON" benchmarks/head_overhead.py $BENCH_ARGS --out "$RES/head_overhead.md"
}

export -f env_report install_kit deps_check build_mmcv mmcv_import make_data write_config train \
    test_ckpt sweep bench checkpoint_of dp_configs dp_train dp_prepare dp_test
export HERE REPO PYTHON KIT WORK SITE RES CPU_MODE DEVICE ITERS DP_ITERS BATCH WORKERS \
    LOG_INTERVAL NUM_TRAIN NUM_VAL BENCH_ARGS GPU_ARCH GPU_PYTHON

# ===================================================================================== run
say "mode: $DEVICE; budget $((DEADLINE - START))s; out $OUT; work $WORK; kit $KIT"
run_step env "$CAP_ENV" bash -eo pipefail -c env_report || true
run_step install "$CAP_INSTALL" bash -eo pipefail -c install_kit || true
if [ "$CPU_MODE" = 1 ]; then
    export PYTHONPATH=$REPO${PYTHONPATH:+:$PYTHONPATH}
else
    export PYTHONPATH=$SITE:$REPO${PYTHONPATH:+:$PYTHONPATH}
fi
run_step deps "$CAP_DEPS" bash -eo pipefail -c deps_check || true

# mini-LVIS is generated while mmcv builds (numpy and cv2 only).
run_step data "$CAP_DATA" bash -eo pipefail -c make_data &
DATA_PID=$!

if [ "$CPU_MODE" = 1 ]; then
    skip_step mmcv_build "CPU dry run: the installed mmcv is used"
elif ls "$KIT"/mmcv-2.1.0-*.whl >/dev/null 2>&1; then
    # a wheel built on an earlier run and carried back in the kit
    run_step mmcv_build "$CAP_MMCV_WHEEL" bash -eo pipefail -c \
        '"$PYTHON" -m pip install --no-index --no-deps --upgrade --target "$SITE" \
            "$KIT"/mmcv-2.1.0-*.whl' || true
elif [ -d "$SITE/mmcv" ] && mmcv_import >/dev/null 2>&1; then
    skip_step mmcv_build "already built in $SITE (a rerun on a warm machine)"
else
    if ! run_step mmcv_build "$CAP_MMCV_BUILD" bash -eo pipefail -c 'build_mmcv cuda'; then
        if grep -q 'unsupported GNU version' "$RES/mmcv_build.log"; then
            # nvcc refuses a host gcc newer than it knows: try it anyway
            mv "$RES/mmcv_build.log" "$RES/mmcv_build_first.log"
            export MMCV_CUDA_ARGS=-allow-unsupported-compiler
            run_step mmcv_build "$CAP_MMCV_REBUILD" bash -eo pipefail -c 'build_mmcv cuda' || true
        fi
    fi
    export_wheel
fi
run_step mmcv_import "$CAP_MMCV_IMPORT" bash -eo pipefail -c mmcv_import || true
run_step ops_check "$CAP_OPS" "$PYTHON" "$HERE/gpu_ops.py" --device "$DEVICE" || OPS_RC=$?

# Fallback when the ops do not run on the GPU (2: an error; 3 would be a numerical difference):
# mmcv with CPU ops only, RoIAlign and NMS on the GPU through torchvision.
if [ "$CPU_MODE" != 1 ] && [ "${OPS_RC:-0}" = 2 ] && ((DEADLINE - $(date +%s) > FALLBACK_MIN_S))
then
    say "mmcv's CUDA ops are not usable: fallback to CPU ops + torchvision RoIAlign/NMS"
    run_step mmcv_build_cpu "$CAP_MMCV_BUILD_CPU" bash -eo pipefail -c 'build_mmcv cpu' || true
    # every later Python process routes RoIAlign and NMS on CUDA to torchvision
    export PYTHONPATH=$HERE/fallback:$PYTHONPATH
    record fallback used 0 "mmcv CPU ops + torchvision RoIAlign/NMS on CUDA"
    run_step ops_check_fallback "$CAP_OPS" "$PYTHON" "$HERE/gpu_ops.py" --device cuda || true
fi

wait "$DATA_PID" || true
run_step config "$CAP_CONFIG" bash -eo pipefail -c write_config || true

# Three chains at once on the GPU (a small model; their timings are not benchmarks): fp32 then
# its test and alpha sweep; AMP then its test; dual-phase. On the CPU one after the other,
# without AMP. They leave the head benchmark its last BENCH_RESERVE_S.
STEP_DEADLINE=$((DEADLINE - (BENCH_ON == 1 ? BENCH_RESERVE_S : 0)))
chain_fp32() {
    if ! run_step train_fp32 "$CAP_TRAIN" bash -eo pipefail -c 'train train_fp32'; then
        skip_step test_fp32 "no checkpoint"
        skip_step sweep_fp32 "no checkpoint"
        return 0
    fi
    run_step test_fp32 "$CAP_TEST" bash -eo pipefail -c 'test_ckpt test_fp32 train_fp32' || true
    run_step sweep_fp32 "$CAP_SWEEP" bash -eo pipefail -c 'sweep sweep_fp32 train_fp32' || true
}
chain_amp() {
    if [ "$CPU_MODE" = 1 ]; then
        skip_step train_amp "--amp needs a GPU"
        skip_step test_amp "--amp needs a GPU"
        return 0
    fi
    if ! run_step train_amp "$CAP_TRAIN" bash -eo pipefail -c 'train train_amp --amp'; then
        skip_step test_amp "no checkpoint"
        return 0
    fi
    run_step test_amp "$CAP_TEST" bash -eo pipefail -c 'test_ckpt test_amp train_amp' || true
}
chain_dual_phase() {
    local steps=(train_dp_phase1 dp_prepare train_dp_phase2 test_dp_phase2) step
    skip_rest() { for step in "${steps[@]:$1}"; do skip_step "$step" "$2"; done; }
    run_step dp_configs "$CAP_DP_CONFIGS" bash -eo pipefail -c dp_configs ||
        { skip_rest 0 "no configs"; return 0; }
    run_step train_dp_phase1 "$CAP_TRAIN" bash -eo pipefail -c 'dp_train phase1' ||
        { skip_rest 1 "no phase-I checkpoint"; return 0; }
    run_step dp_prepare "$CAP_DP_PREPARE" bash -eo pipefail -c dp_prepare ||
        { skip_rest 2 "no memory"; return 0; }
    run_step train_dp_phase2 "$CAP_TRAIN" bash -eo pipefail -c 'dp_train phase2' ||
        { skip_rest 3 "no phase-II checkpoint"; return 0; }
    run_step test_dp_phase2 "$CAP_TEST" bash -eo pipefail -c dp_test || true
}
chain_fp32 &
FP32_PID=$!
if [ "$CPU_MODE" = 1 ]; then wait "$FP32_PID" || true; fi
chain_amp &
AMP_PID=$!
if [ "$CPU_MODE" = 1 ]; then wait "$AMP_PID" || true; fi
chain_dual_phase &
DP_PID=$!
wait "$FP32_PID" "$AMP_PID" "$DP_PID" || true
unset STEP_DEADLINE

# Alone on the device: these are the timings to report.
if [ "$BENCH_ON" = 1 ]; then
    run_step head_overhead "$CAP_BENCH" bash -eo pipefail -c bench || true
else
    skip_step head_overhead "GPU_CHECK_BENCH=0"
fi

record total done $(($(date +%s) - START)) ""
publish
say "done in $(($(date +%s) - START))s; summary:"
cat "$OUT/summary.md"
