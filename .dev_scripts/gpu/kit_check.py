"""Check that the GPU kit is complete: every requirement of every kit wheel, for the target
Python on Linux, is in the kit or on the GPU machine's image.

That machine has no network: a gap would only show there, where nothing can be fetched.
Exit status 1, naming each gap, when one is found.
"""
import argparse
import email.parser
import sys
import zipfile
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename

# What the device image holds (its package list is in the device docs).
ON_DEVICE = frozenset({
    'numpy', 'matplotlib', 'scipy', 'six', 'tqdm', 'rich', 'pyyaml', 'pillow', 'packaging',
    'regex', 'cython', 'kiwisolver', 'cycler', 'pyparsing', 'python-dateutil',
    'opencv-python-headless'})
ALIASES = {'opencv-python': 'opencv-python-headless'}  # the same cv2 module


def wheel_requirements(wheel: Path) -> list:
    """The Requires-Dist lines of a wheel's own METADATA."""
    with zipfile.ZipFile(wheel) as z:
        meta = next(n for n in z.namelist()
                    if n.count('/') == 1 and n.endswith('.dist-info/METADATA'))
        msg = email.parser.Parser().parsestr(z.read(meta).decode())
    return msg.get_all('Requires-Dist') or []


def gaps(kit: Path, python_version: str, on_device=ON_DEVICE) -> list:
    """'wheel: requirement' for each requirement met neither by the kit nor by the image."""
    env = dict(default_environment(), python_version=python_version,
               python_full_version=f'{python_version}.0', sys_platform='linux',
               platform_system='Linux', extra='')
    wheels = sorted(kit.glob('*.whl'))
    names = {canonicalize_name(parse_wheel_filename(w.name)[0]) for w in wheels}
    missing = []
    for wheel in wheels:
        for line in wheel_requirements(wheel):
            req = Requirement(line)
            if req.marker is not None and not req.marker.evaluate(env):
                continue
            name = canonicalize_name(req.name)
            name = ALIASES.get(name, name)
            if name not in names and name not in on_device:
                missing.append(f'{wheel.name}: {req}')
    return missing


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('kit', type=Path, help='the kit folder (gpu_kit.sh GPU_KIT)')
    parser.add_argument('python_version', help="the GPU machine's Python, e.g. 3.12")
    args = parser.parse_args(argv)
    wheels = list(args.kit.glob('*.whl'))
    if not wheels:
        print(f'[gpu_kit] no wheels in {args.kit}', file=sys.stderr)
        return 1
    missing = gaps(args.kit, args.python_version)
    if missing:
        print('[gpu_kit] requirements neither in the kit nor on the device image:\n  '
              + '\n  '.join(missing), file=sys.stderr)
        return 1
    print(f'[gpu_kit] complete: {len(wheels)} wheels; needed from the device image: '
          + ', '.join(sorted(ON_DEVICE)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
