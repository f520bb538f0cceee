"""Evaluate a saved LVIS/COCO-format results file against LVIS annotations, without a model.

    python tools/eval_lvis.py work_dirs/x/results.bbox.json \
        data/lvis_v1/annotations/lvis_v1_val.json --iou-type bbox --out metrics.json \
        --report work_dirs/x/lvis_eval

Numbers are the LVIS API's (AP, AP50, AP75, APs, APm, APl, APr, APc, APf, AR@300; -1 where
undefined), computed by mmdet_tde's fast evaluator.
"""
import argparse
import json
import sys
import time

from mmdet_tde.evaluation.fast_lvis import (IOU_TYPES, evaluate_lvis, load_lvis_annotations,
                                            load_results)
from mmdet_tde.evaluation.lvis_report import (category_table, frequency_table, save_report,
                                              summary_table)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('results', help='results JSON: a list of detections')
    parser.add_argument('annotations', help='LVIS v0.5 / v1.0 annotation JSON')
    parser.add_argument('--iou-type', choices=IOU_TYPES, default='bbox')
    parser.add_argument('--out', help='write the summary metrics to this JSON file')
    parser.add_argument('--report', metavar='PREFIX',
                        help='write PREFIX.<iou-type>_report.json and per-category/frequency CSVs')
    parser.add_argument('--classwise', action='store_true', help='print the per-category table')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    start = time.time()
    try:
        gt = load_lvis_annotations(args.annotations)
        result = evaluate_lvis(gt, load_results(args.results), args.iou_type)
    except (OSError, ValueError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    print(summary_table(result))
    print(frequency_table(result))
    if args.classwise:
        print(category_table(result))
    print(f'evaluated in {time.time() - start:.1f} s')
    if args.report:
        for path in save_report(result, args.report).values():
            print(f'wrote {path}')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(result.summary, f, indent=1)
        print(f'wrote {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
