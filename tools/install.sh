#!/usr/bin/env bash
# Install everything mmdet_tde needs into the active Python environment (PYTHON, default python3).
# A second run is a quick no-op. An existing torch (e.g. a CUDA build) is kept; mmcv is compiled
# against it (with CUDA ops when nvcc and a CUDA torch are present), as no mmcv wheel exists for
# recent torch releases.
#
# MMDET_STACK picks the MMDetection stack (docs/install_matrix.md):
#   openmmlab (default)  mmcv 2.1.0, mmengine 0.10.7, mmdet 3.3.0 (requirements/stack_openmmlab.txt)
#   onedl                onedl-mmcv 2.3.6, onedl-mmengine 0.10.12, onedl-mmdetection 3.5.1, the
#                        maintained continuation under the same import names (stack_onedl.txt)
# Both install the packages mmcv, mmengine and mmdet: one environment holds one stack. Unset,
# MMDET_STACK is the stack already installed here, so later runs need no switch.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON=${PYTHON:-python3}
PIP=("$PYTHON" -m pip install --disable-pip-version-check)

check() { (cd / && "$PYTHON" "$REPO/requirements/check_env.py" "$@"); }

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
    echo "[install] $PYTHON is $("$PYTHON" -V 2>&1); mmdet_tde needs Python >= 3.10" \
        "(hotcoco, its LVIS evaluation engine, has wheels for 3.10+ only)" >&2
    exit 2
fi

if ! "$PYTHON" -c "import packaging" 2>/dev/null; then
    "${PIP[@]}" packaging
fi
STACK_INFO=$(check --print-stack)   # fails, naming the allowed values, for an unknown stack
read -r MMCV_REQ STACK <<< "$STACK_INFO"

if check; then
    echo "[install] environment complete ($STACK stack), nothing to do"
    exit 0
fi
if ! check --conflicts; then
    echo "[install] refusing to install the $STACK stack over another one: use a fresh" \
        "environment, or uninstall the packages named above first" >&2
    exit 2
fi

if ! "$PYTHON" -c "import torch" 2>/dev/null; then
    echo "[install] installing torch 2.13.0"
    "${PIP[@]}" "torch==2.13.0"
fi

MMCV_DIST=${MMCV_REQ%%==*}
if ! "$PYTHON" -c "import importlib.metadata as m, importlib.util as u; \
        assert m.version('$MMCV_DIST') == '${MMCV_REQ#*==}' and u.find_spec('mmcv._ext')" \
        2>/dev/null; then
    # Both builds need torch and numpy in the build environment, hence --no-build-isolation.
    # mmcv 2.1.0's setup.py imports pkg_resources (gone from setuptools 81); onedl-mmcv asks
    # for setuptools >= 80.
    "${PIP[@]}" "setuptools>=80,<81" wheel ninja numpy packaging
    export MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-$(nproc)}
    if command -v nvcc >/dev/null \
            && "$PYTHON" -c "import torch; assert torch.version.cuda" 2>/dev/null; then
        export FORCE_CUDA=1
    fi
    echo "[install] building $MMCV_REQ (compiles its ops: 10 to 20 minutes on 2 cores;" \
        "cached afterwards)"
    "${PIP[@]}" --no-build-isolation "$MMCV_REQ"
fi

echo "[install] installing the $STACK stack's mmengine and mmdet, the evaluation and test" \
    "dependencies, and mmdet_tde"
"${PIP[@]}" -e "$REPO[tests,$STACK]"
check --verbose
echo "[install] done ($STACK stack)"
