"""Split an LVIS training set's categories for dual-phase training.

    python tools/dual_phase_split.py data/lvis_v1/annotations/lvis_v1_train.json \\
        --out data/lvis_v1/dual_phase_split.json [--min-images 20]

Phase I = frequent + common categories, phase II = rare ones (default); ``--min-images N`` puts
in phase II the categories in fewer than N training images (the paper's rule with N = 20).
"""
import argparse
import os
import sys

from mmdet_tde.fileio import make_split
from mmdet_tde.fileio import check_not_input, check_output_path, read_json, write_json_atomic


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('annotations', help='LVIS-format training annotation file')
    parser.add_argument('--out', required=True, help='split file to write (JSON)')
    parser.add_argument('--min-images', type=int,
                        help='phase II = categories in fewer than this many training images '
                        '(default: the LVIS rare group)')
    return parser.parse_args()


def split_of(path: str, min_images) -> dict:
    """The split of the annotation file ``path``; its errors name the file."""
    annotations = read_json(path, 'annotation file')
    if not isinstance(annotations, dict) or not isinstance(annotations.get('categories'), list):
        raise ValueError(f"annotation file {path} has no 'categories' list: not an LVIS "
                         'annotation file')
    try:
        return make_split(annotations['categories'], min_images, os.path.basename(path))
    except ValueError as error:
        raise ValueError(f'{path}: {error}') from None


def main():
    args = parse_args()
    try:
        check_output_path(args.out, '--out')  # before reading, and never over the input
        check_not_input(args.out, [args.annotations], '--out')
        split = split_of(args.annotations, args.min_images)
        write_json_atomic(split, args.out)
    except (OSError, ValueError) as error:
        sys.exit(f'error: {error}')
    print(f"[dual-phase split] {split['rule']}: phase I {len(split['phase1_category_ids'])} "
          f"categories, phase II {len(split['phase2_category_ids'])}, "
          f"lambda = sqrt(C1 / C2) = {split['loss_lambda']:.3f}, digest {split['digest']} "
          f'-> {args.out}')


if __name__ == '__main__':
    main()
