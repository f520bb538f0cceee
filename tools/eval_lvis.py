"""Evaluate a saved LVIS/COCO-format results file against LVIS annotations, without a model.

    python tools/eval_lvis.py work_dirs/x/results.bbox.json \
        data/lvis_v1/annotations/lvis_v1_val.json --iou-type bbox --out metrics.json \
        --report work_dirs/x/lvis_eval

Numbers are the LVIS API's (AP, AP50, AP75, APs, APm, APl, APr, APc, APf, AR@300; -1 where
undefined), computed by mmdet_tde's fast evaluator. --ap-fixed adds Fixed AP (AP_fixed, ...,
AR_fixed: top 10,000 detections per category, no per-image limit); --iou-type boundary gives
Boundary AP (masks matched by min(mask IoU, boundary IoU)). --tide adds TIDE's error types
(Cls, Loc, Both, Dupe, Bkg, Miss: count and ΔAP50) per frequency group. --nproc N shares the
evaluation between N local processes (each evaluates a share of the categories; same numbers).
See docs/evaluation.md.
"""
import argparse
import os
import os.path as osp
import sys
import tempfile
import time


def _skip_package_inits(*names: str) -> None:
    """Make ``names`` importable packages without running their ``__init__``.

    ``mmdet_tde/__init__.py`` registers the models and ``FastLVISMetric`` in mmdet (torch,
    mmdet and mmcv: seconds of imports), ``mmdet_tde/utils/__init__.py`` loads the checkpoint
    helpers (torch, mmengine); evaluating a JSON file needs none of them.
    """
    import importlib.util
    import types
    for name in names:
        if name not in sys.modules:
            package = types.ModuleType(name)
            package.__path__ = list(importlib.util.find_spec(name).submodule_search_locations)
            sys.modules[name] = package


if __name__ == '__main__':
    _skip_package_inits('mmdet_tde', 'mmdet_tde.evaluation', 'mmdet_tde.utils')

from mmdet_tde.evaluation.detection_exchange import shard_by_image  # noqa: E402
from mmdet_tde.evaluation.fast_lvis import (IOU_TYPES, MAX_DETS_PER_CATEGORY,  # noqa: E402
                                            count_categories_below, evaluate_lvis,
                                            evaluate_lvis_fixed, load_lvis_annotations,
                                            load_results)
from mmdet_tde.evaluation.lvis_report import (category_table, error_tables,  # noqa: E402
                                              frequency_table, save_report, summary_table)
from mmdet_tde.utils.process_group import SingleProcess  # noqa: E402
from mmdet_tde.fileio import check_output_path, write_json_atomic  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('results', help='results JSON: a list of detections')
    parser.add_argument('annotations', help='LVIS v0.5 / v1.0 annotation JSON')
    parser.add_argument('--iou-type', choices=IOU_TYPES, default='bbox')
    parser.add_argument('--out', help='write the summary metrics to this JSON file')
    parser.add_argument('--report', metavar='PREFIX',
                        help='write PREFIX.<iou-type>_report.json and per-category/frequency CSVs')
    parser.add_argument('--classwise', action='store_true', help='print the per-category table')
    parser.add_argument('--ap-fixed', action='store_true',
                        help='also evaluate Fixed AP (top 10,000 detections per category, no '
                        'per-image limit; report files PREFIX.<iou-type>_fixed_*)')
    parser.add_argument('--tide', action='store_true',
                        help="also TIDE's error types per frequency group (bbox and segm; in "
                        'the report JSON as "errors")')
    parser.add_argument('--nproc', type=int, default=1,
                        help='share the evaluation between this many local processes')
    args = parser.parse_args(argv)
    if args.nproc < 1:
        parser.error(f'--nproc must be >= 1, got {args.nproc}')
    if args.tide and args.iou_type == 'boundary':
        parser.error("--tide works with --iou-type 'bbox' or 'segm', not 'boundary'")
    for option, value in (('--out', args.out), ('--report', args.report)):
        if value is not None and not value.strip():
            parser.error(f'{option} is empty; give a file name (or leave {option} out)')
    return args


def check_outputs(args) -> None:
    """Refuse --out / --report paths that cannot be written or would overwrite an input now,
    not after minutes of evaluation."""
    inputs = {osp.realpath(path) for path in (args.results, args.annotations)}
    outputs = [('--out', args.out)] if args.out else []
    if args.report:
        outputs.append(('--report', f'{args.report}.{args.iou_type}_report.json'))
    for what, path in outputs:
        check_output_path(path, what)
        if osp.realpath(path) in inputs:
            raise ValueError(f'{what} {path} is an input file; writing it would destroy it')
        _try_writing_beside(path, what)


def _try_writing_beside(path: str, what: str) -> None:
    """Create and remove a file in the nearest existing directory of ``path``: permission
    bits do not tell a read-only or virtual file system (or, for root, anything)."""
    directory = osp.dirname(osp.abspath(path))
    while not osp.isdir(directory):
        directory = osp.dirname(directory)
    try:
        fd, probe = tempfile.mkstemp(prefix='.eval_lvis_probe', dir=directory)
    except OSError as e:
        raise ValueError(f'{what} {path}: cannot write in {directory} ({e.strerror})') from None
    os.close(fd)
    os.remove(probe)


def evaluate(group, gt, detections, args) -> list:
    """This process's share of ``detections`` evaluated (all of them in one process); the
    results on rank 0, None elsewhere."""
    if group.world_size == 1:
        share, order = detections, None
    else:
        share, order = shard_by_image(detections, group.world_size, group.rank)
    results = [evaluate_lvis(gt, share, args.iou_type, group=group, order=order,
                             tide=args.tide)]
    if args.ap_fixed:
        results.append(evaluate_lvis_fixed(gt, share, args.iou_type, group=group, order=order))
    return results


def evaluate_shared(gt, detections, args) -> list:
    """Evaluate in ``args.nproc`` local processes; rank 0's results.

    Forked, so the processes inherit the inputs instead of unpickling them (this tool has
    started no threads).
    """
    from mmdet_tde.utils.process_group import run_in_processes  # torch: only here
    replies = run_in_processes(evaluate, args.nproc, gt, detections, args, start_method='fork')
    errors = [error for error, _ in replies if error is not None]
    if errors:
        raise errors[0]
    return replies[0][1]


def main(argv=None) -> int:
    args = parse_args(argv)
    start = time.time()
    try:
        check_outputs(args)
        gt = load_lvis_annotations(args.annotations)
        detections = load_results(args.results)
        loaded = time.time()
        results = (evaluate(SingleProcess(), gt, detections, args) if args.nproc == 1 else
                   evaluate_shared(gt, detections, args))
    except (OSError, ValueError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    for result in results:
        print(summary_table(result))
        print(frequency_table(result))
        if args.classwise:
            print(category_table(result))
        if result.errors is not None:
            print(error_tables(result))
    if args.ap_fixed:
        print(f'Fixed AP: {count_categories_below(gt, detections)} categories with ground truth '
              f'have fewer than {MAX_DETS_PER_CATEGORY} detections (see docs/evaluation.md)')
    print(f'loaded in {loaded - start:.1f} s, evaluated in {time.time() - loaded:.1f} s '
          f'({args.nproc} process{"es" if args.nproc > 1 else ""})')
    if args.report:
        for result in results:
            for path in save_report(result, args.report).values():
                print(f'wrote {path}')
    if args.out:
        write_json_atomic({k: v for result in results for k, v in result.summary.items()},
                          args.out)
        print(f'wrote {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
