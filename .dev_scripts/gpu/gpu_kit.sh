#!/usr/bin/env bash
# Download the kit that gpu_check.sh (beside this file) installs on the GPU machine, which has
# no network: wheels (CPython 3.12, manylinux x86_64) of everything mmdet_tde needs that its
# image lacks, and mmcv 2.1.0's source, compiled there with CUDA ops. Run it here, where PyPI is
# reachable; it downloads, it compiles nothing. The kit lands in gpu_kit/ (git-ignored) and
# travels to the device as a carried path: carry ["gpu_kit"]. See docs/benchmarks/gpu.md.
#
#   bash .dev_scripts/gpu/gpu_kit.sh
#
# Environment: GPU_KIT (output folder, default gpu_kit), PYTHON (python3; any version: pip is
# told the target's), KIT_PYTHON_VERSION (3.12).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
cd "$REPO"
KIT=${GPU_KIT:-gpu_kit}
PYTHON=${PYTHON:-python3}
PY_VERSION=${KIT_PYTHON_VERSION:-3.12}
PY_TAG=cp${PY_VERSION/./}
# A device call carries at most 64 MiB in all: the kit must leave room for the repository.
CARRY_MIB=64 KIT_MAX_MIB=48
PIP=("$PYTHON" -m pip --disable-pip-version-check)

# The pinned lines of requirements/runtime.txt (lvis, faster-coco-eval) and of the default stack
# (requirements/stack_openmmlab.txt: mmengine, mmdet; its mmcv is built from source), and
# what they and mmcv need that the device image does not hold (its package list is in the
# device docs: numpy, matplotlib and its dependencies, scipy, opencv-python-headless, pillow,
# pyyaml, rich, six, tqdm, packaging, regex, cython and ninja are there; torch 2.11 itself needs
# setuptools<82 but not numpy). setuptools<81: mmcv 2.1.0's setup.py imports pkg_resources.
mapfile -t PINNED < <(grep -hE '^[A-Za-z0-9_.-]+==' requirements/runtime.txt \
    requirements/stack_openmmlab.txt | grep -v '^mmcv==')
WHEELS=("${PINNED[@]}"
    pycocotools==2.0.11 shapely==2.2.0 terminaltables==3.1.10 # mmdet's
    addict==2.4.0 termcolor==3.3.0 yapf==0.43.0 platformdirs==4.14.8 # mmengine's and yapf's
    setuptools==80.10.2)
MMCV_SDIST=mmcv==2.1.0

mkdir -p "$KIT"
# Refresh what this script downloads; keep an mmcv wheel built on the device (see gpu.md).
rm -f "$KIT"/*.tar.gz "$KIT"/MANIFEST.txt
find "$KIT" -maxdepth 1 -name '*.whl' ! -name 'mmcv-*' -delete

echo "[gpu_kit] wheels for CPython $PY_VERSION manylinux x86_64: ${WHEELS[*]}"
# --no-deps: the list above is the whole set; the check below proves that it is complete.
"${PIP[@]}" download --no-deps --only-binary=:all: --dest "$KIT" \
    --python-version "$PY_VERSION" --implementation cp --abi "$PY_TAG" --abi abi3 --abi none \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
    --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 "${WHEELS[@]}"

echo "[gpu_kit] source of $MMCV_SDIST (no wheel exists for torch 2.11 / CUDA 13)"
# pip reads an sdist's metadata by running its setup.py; without build isolation that uses
# this environment's setuptools (<81 works) instead of fetching the newest one.
if ! "${PIP[@]}" download --no-deps --no-binary=:all: --no-build-isolation --dest "$KIT" \
        "$MMCV_SDIST"; then
    "${PIP[@]}" download --no-deps --no-binary=:all: --dest "$KIT" "$MMCV_SDIST"
fi

# Every requirement of every kit wheel must be in the kit or on the device image.
"$PYTHON" "$HERE/kit_check.py" "$KIT" "$PY_VERSION"

(cd "$KIT" && for f in *.whl *.tar.gz; do
    printf '%s  %8d  %s\n' "$(sha256sum "$f" | cut -c1-16)" "$(stat -c %s "$f")" "$f"
done) > "$KIT/MANIFEST.txt"
cat "$KIT/MANIFEST.txt"
TOTAL=$(du -cb "$KIT" | tail -n 1 | cut -f1)
echo "[gpu_kit] $KIT: $((TOTAL / 1024)) KiB in all (a device call carries at most $CARRY_MIB MiB)"
if ((TOTAL > KIT_MAX_MIB * 1024 * 1024)); then
    echo "[gpu_kit] the kit is over $KIT_MAX_MIB MiB: the repository must travel with it" >&2
    exit 1
fi
