"""Install mmdet_tde: ``pip install -e .`` (see tools/install.sh for the full environment)."""
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent


def read_requirements(name):
    lines = (HERE / 'requirements' / name).read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith('#')]


def mmdet_stack(name):
    """One of the two MMDetection stacks as an extra, without its mmcv: mmcv has no wheel for
    recent torch, and pip's isolated build of it fails, so tools/install.sh compiles it first."""
    return [req for req in read_requirements(f'stack_{name}.txt') if 'mmcv' not in req]


version = {}
exec((HERE / 'mmdet_tde' / 'version.py').read_text(), version)

setup(
    name='mmdet_tde',
    version=version['__version__'],
    description=('De-confounded training and TDE inference (NeurIPS 2020) for MMDetection 3.x '
                 'on LVIS'),
    long_description=(HERE / 'README.md').read_text(),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['mmdet_tde', 'mmdet_tde.*']),
    # hotcoco, the LVIS evaluation engine, has wheels (abi3) for CPython >= 3.10 only.
    python_requires='>=3.10',
    # torch and mmcv are deliberately absent: tools/install.sh installs them so that an existing
    # CUDA torch is kept and mmcv's ops are compiled against it. The core (mmdet_tde.models.layers)
    # needs only torch; the mmdet integration needs one of the two stacks, which install the same
    # import names and must not be mixed: pick one extra.
    install_requires=read_requirements('runtime.txt'),
    extras_require={
        'tests': read_requirements('tests.txt'),
        'openmmlab': mmdet_stack('openmmlab'),
        'onedl': mmdet_stack('onedl'),
    },
    license='Apache-2.0',
)
