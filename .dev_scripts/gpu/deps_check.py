"""Import every module the GPU check's runs need, and name each one that fails.

The GPU machine has no network: a package missing from both its image and the kit shows here,
in one step, instead of as a failed training later. Exit status 1 when any import fails.
"""
import argparse
import importlib
import sys

# The kit's packages (gpu_kit.sh) and what the runs take from the image.
MODULES = ('numpy', 'scipy', 'matplotlib', 'cv2', 'PIL', 'yaml', 'six', 'tqdm', 'rich',
           'packaging', 'addict', 'termcolor', 'yapf', 'platformdirs', 'terminaltables',
           'pycocotools', 'shapely', 'lvis', 'hotcoco', 'faster_coco_eval', 'mmengine',
           'pkg_resources', 'torch')


def check(modules) -> tuple:
    """One report line per module, and the names of those that did not import."""
    lines, missing = [], []
    for name in modules:
        try:
            mod = importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - report every kind of import failure
            missing.append(name)
            lines.append(f'{name:18s} FAILED: {type(exc).__name__}: {exc}')
            continue
        lines.append(f'{name:18s} {getattr(mod, "__version__", "")}  '
                     f'{getattr(mod, "__file__", "")}')
    return lines, missing


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('modules', nargs='*', default=MODULES,
                        help='modules to import (default: what the GPU check needs)')
    args = parser.parse_args(argv)
    lines, missing = check(args.modules)
    print('\n'.join(lines))
    if missing:
        print(f'cannot import: {", ".join(missing)}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
