import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# Tools run as subprocesses import mmdet_tde from this checkout, as tools/dist_train.sh arranges.
os.environ['PYTHONPATH'] = os.pathsep.join([str(REPO), os.environ.get('PYTHONPATH', '')])


@pytest.fixture(scope='session')
def repo_root():
    return REPO


@pytest.fixture(autouse=True)
def _mmdet_scope():
    """Resolve config types in the 'mmdet' scope, as mmdet's tools set up."""
    from mmdet.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    import mmdet_tde  # noqa: F401
