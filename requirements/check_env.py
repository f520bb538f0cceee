"""Exit 0 when this Python environment already has everything mmdet_tde needs.

Used by tools/install.sh to make a second install a quick no-op; ``--verbose`` says what is
missing. It lives beside the requirement sets it reads, which name each stack's distributions.
The MMDetection stack is chosen by the environment variable ``MMDET_STACK`` (see STACKS); unset,
it is the stack already installed here, else the default;
``--conflicts`` exits 1 when the other stack is installed: both ship the packages ``mmcv``,
``mmengine`` and ``mmdet``, so installing one over the other would mix their files.
"""
import argparse
import importlib.metadata as metadata
import importlib.util
import os
import sys
from pathlib import Path

from packaging.requirements import Requirement

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
# MMDET_STACK value -> requirements file pinning its mmcv, mmengine and mmdet distributions.
STACKS = {'openmmlab': 'stack_openmmlab.txt', 'onedl': 'stack_onedl.txt'}
DEFAULT_STACK = 'openmmlab'
REQUIREMENT_FILES = ['runtime.txt', 'tests.txt']


def selected_stack() -> str:
    stack = os.environ.get('MMDET_STACK') or installed_stack() or DEFAULT_STACK
    if stack not in STACKS:
        sys.exit(f'[check_env] MMDET_STACK={stack!r} is not a known stack; allowed values: '
                 f'{", ".join(STACKS)} (default {DEFAULT_STACK})')
    return stack


def requirement_lines(name):
    for line in (HERE / name).read_text().splitlines():
        line = line.strip()
        if line and not line.startswith('#'):
            yield line


def stack_requirements(stack):
    return [Requirement(line) for line in requirement_lines(STACKS[stack])]


def installed_version(name):
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def installed_stack():
    """The one stack with a distribution installed here, else None (none, or a mix)."""
    found = [stack for stack in STACKS
             if any(installed_version(req.name) for req in stack_requirements(stack))]
    return found[0] if len(found) == 1 else None


def problems(stack):
    requirements = stack_requirements(stack) + [
        Requirement(line) for name in REQUIREMENT_FILES for line in requirement_lines(name)]
    for req in requirements:
        version = installed_version(req.name)
        if version is None:
            yield f'{req.name} is not installed'
        elif not req.specifier.contains(version, prereleases=True):
            yield f'{req.name} {version} does not satisfy {req}'
    if importlib.util.find_spec('mmcv') is None or importlib.util.find_spec('mmcv._ext') is None:
        yield 'mmcv is installed without its compiled ops (mmcv._ext)'
    spec = importlib.util.find_spec('mmdet_tde')
    if spec is None or Path(spec.origin).resolve().parents[1] != REPO:
        yield 'mmdet_tde is not installed from this checkout'
    yield from conflicts(stack)


def conflicts(stack):
    """Distributions of the other stacks installed here."""
    for other in STACKS:
        if other == stack:
            continue
        for req in stack_requirements(other):
            version = installed_version(req.name)
            if version is not None:
                yield (f'{req.name} {version} of the {other!r} stack is installed, which ships the '
                       f'same packages as the {stack!r} stack (MMDET_STACK={stack})')


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--verbose', action='store_true', help='print what is missing')
    parser.add_argument('--conflicts', action='store_true',
                        help='check only that no other stack is installed')
    parser.add_argument('--print-stack', action='store_true',
                        help="print the selected stack's mmcv requirement and extra, then exit")
    args = parser.parse_args()
    stack = selected_stack()
    if args.print_stack:
        print(next(req for req in stack_requirements(stack) if req.name.endswith('mmcv')), stack)
        return
    # Run from outside the repo so that the checkout itself does not shadow the installed package.
    found = list(conflicts(stack) if args.conflicts else problems(stack))
    if args.verbose or args.conflicts:
        for item in found:
            print(f'[check_env] {item}')
    sys.exit(1 if found else 0)


if __name__ == '__main__':
    main()
