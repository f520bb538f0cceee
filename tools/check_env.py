"""Exit 0 when this Python environment already has everything mmdet_tde needs.

Used by install.sh to make a second install a quick no-op; ``--verbose`` says what is missing.
"""
import argparse
import importlib.metadata as metadata
import importlib.util
import sys
from pathlib import Path

from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[1]
PINNED = ['mmcv==2.1.0']
REQUIREMENT_FILES = ['runtime.txt', 'tests.txt']


def requirement_lines():
    for name in REQUIREMENT_FILES:
        for line in (REPO / 'requirements' / name).read_text().splitlines():
            line = line.strip()
            if line and not line.startswith('#'):
                yield line


def problems():
    for line in PINNED + list(requirement_lines()):
        req = Requirement(line)
        try:
            version = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            yield f'{req.name} is not installed'
            continue
        if not req.specifier.contains(version, prereleases=True):
            yield f'{req.name} {version} does not satisfy {req}'
    if importlib.util.find_spec('mmcv') is None or importlib.util.find_spec('mmcv._ext') is None:
        yield 'mmcv is installed without its compiled ops (mmcv._ext)'
    spec = importlib.util.find_spec('mmdet_tde')
    if spec is None or Path(spec.origin).resolve().parents[1] != REPO:
        yield 'mmdet_tde is not installed from this checkout'


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--verbose', action='store_true')
    args = parser.parse_args()
    # Run from outside the repo so that the checkout itself does not shadow the installed package.
    missing = list(problems())
    if args.verbose:
        for item in missing:
            print(f'[check_env] {item}')
    sys.exit(1 if missing else 0)


if __name__ == '__main__':
    main()
