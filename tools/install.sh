#!/usr/bin/env bash
# Install everything mmdet_tde needs into the active Python environment (PYTHON, default python3).
# A second run is a quick no-op. An existing torch (e.g. a CUDA build) is kept; mmcv 2.1.0 is
# compiled against it (with CUDA ops when nvcc and a CUDA torch are present), as no mmcv wheel
# exists for recent torch releases.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON=${PYTHON:-python3}
PIP=("$PYTHON" -m pip install --disable-pip-version-check)

check() { (cd / && "$PYTHON" "$REPO/tools/check_env.py" "$@"); }

if "$PYTHON" -c "import packaging" 2>/dev/null && check; then
    echo "[install] environment complete, nothing to do"
    exit 0
fi

if ! "$PYTHON" -c "import torch" 2>/dev/null; then
    echo "[install] installing torch 2.13.0"
    "${PIP[@]}" "torch==2.13.0"
fi

if ! "$PYTHON" -c "import importlib.metadata as m, importlib.util as u; \
        assert m.version('mmcv') == '2.1.0' and u.find_spec('mmcv._ext')" 2>/dev/null; then
    # mmcv's setup.py imports pkg_resources (gone from setuptools 81) and needs torch and numpy
    # in the build environment, hence --no-build-isolation. pip caches the built wheel.
    "${PIP[@]}" "setuptools<81" wheel ninja numpy packaging
    export MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-$(nproc)}
    if command -v nvcc >/dev/null \
            && "$PYTHON" -c "import torch; assert torch.version.cuda" 2>/dev/null; then
        export FORCE_CUDA=1
    fi
    echo "[install] building mmcv 2.1.0 (compiles its ops: about 20 minutes on 2 cores;" \
        "cached afterwards)"
    "${PIP[@]}" --no-build-isolation "mmcv==2.1.0"
fi

echo "[install] installing mmdet, mmengine, evaluation and test dependencies, and mmdet_tde"
"${PIP[@]}" -e "$REPO[tests]"
check --verbose
echo "[install] done"
