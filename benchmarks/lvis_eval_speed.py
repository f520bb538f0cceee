"""Time the LVIS API against mmdet_tde's fast LVIS evaluation on synthetic LVIS-scale data.

Both evaluate the same in-memory detections of the same annotation file; each runs in its own
forked process (so neither pays for the other's memory) and reports its metrics back. Printed
per scale: annotation loading and evaluation times, the speed-up, and the largest absolute
difference over AP, AP50, AP75, APs, APm, APl, APr, APc, APf, AR@300.

    python benchmarks/lvis_eval_speed.py                       # default scale, a few minutes
    python benchmarks/lvis_eval_speed.py --images 1000 5000 --mask-images 250 1000 \
        --markdown docs/benchmarks/lvis_eval_speed.md
"""
import argparse
import json
import multiprocessing
import os
import platform
import resource
import sys
import tempfile
import time
from importlib.metadata import version

from mmdet_tde.evaluation import patch_lvis_numpy
from mmdet_tde.evaluation.fast_lvis import METRIC_NAMES, evaluate_lvis, load_lvis_annotations
from mmdet_tde.testing import make_lvis_annotations, make_lvis_detections

# Set before forking: children read them from the inherited memory instead of a pickled copy.
_ANN_FILE = None
_DETS = None


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--images', type=int, nargs='*', default=[1000],
                        help='box benchmark: number of images, one run per value (LVIS v1 val '
                        'has 19,809)')
    parser.add_argument('--dets-per-image', type=int, default=300)
    parser.add_argument('--mask-images', type=int, nargs='*', default=[250],
                        help='mask benchmark: number of images, one run per value')
    parser.add_argument('--mask-dets-per-image', type=int, default=100)
    parser.add_argument('--categories', type=int, default=1203)
    parser.add_argument('--markdown', help='also write the results as a markdown page here')
    return parser.parse_args()


def _run_lvis_api(iou_type):
    patch_lvis_numpy()
    from lvis import LVIS, LVISEval, LVISResults
    start = time.perf_counter()
    gt = LVIS(_ANN_FILE)
    loaded = time.perf_counter()
    lvis_eval = LVISEval(gt, LVISResults(gt, _DETS), iou_type)
    lvis_eval.run()
    done = time.perf_counter()
    return loaded - start, done - loaded, {k: float(v) for k, v in lvis_eval.results.items()}


def _run_fast(iou_type):
    start = time.perf_counter()
    gt = load_lvis_annotations(_ANN_FILE)
    loaded = time.perf_counter()
    result = evaluate_lvis(gt, _DETS, iou_type)
    done = time.perf_counter()
    return loaded - start, done - loaded, result.summary


def _in_child(fn, iou_type):
    """Run ``fn`` in a forked process; return its result and peak memory."""
    recv, send = multiprocessing.Pipe(duplex=False)

    def target():
        out = fn(iou_type)
        send.send(out + (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, ))

    proc = multiprocessing.get_context('fork').Process(target=target)
    proc.start()
    out = recv.recv()
    proc.join()
    return out


def bench(iou_type, num_images, dets_per_image, num_categories, tmp_dir):
    global _ANN_FILE, _DETS
    start = time.perf_counter()
    gt = make_lvis_annotations(num_images, num_categories, seed=num_images)
    _DETS = make_lvis_detections(gt, iou_type, dets_per_image, seed=num_images + 1)
    _ANN_FILE = os.path.join(tmp_dir, f'lvis_synthetic_{num_images}.json')
    with open(_ANN_FILE, 'w') as f:
        json.dump(gt, f)
    print(f'[{iou_type}] {num_images} images, {len(gt["annotations"])} instances, '
          f'{len(_DETS)} detections: generated in {time.perf_counter() - start:.0f} s',
          flush=True)
    ref = _in_child(_run_lvis_api, iou_type)
    print(f'  LVIS API: load {ref[0]:.1f} s, evaluate {ref[1]:.1f} s, peak {ref[3]:.1f} GiB',
          flush=True)
    ours = _in_child(_run_fast, iou_type)
    print(f'  fast:     load {ours[0]:.1f} s, evaluate {ours[1]:.1f} s, peak {ours[3]:.1f} GiB')
    diff = max(abs(ours[2][k] - ref[2][k]) for k in METRIC_NAMES)
    row = dict(iou_type=iou_type, images=num_images, categories=num_categories,
               instances=len(gt['annotations']), detections=len(_DETS),
               lvis_load=ref[0], lvis_eval=ref[1], fast_load=ours[0], fast_eval=ours[1],
               speedup=ref[1] / ours[1], speedup_total=(ref[0] + ref[1]) / (ours[0] + ours[1]),
               max_abs_diff=diff, lvis_peak_gib=ref[3], fast_peak_gib=ours[3],
               AP=ours[2]['AP'], APr=ours[2]['APr'])
    print(f'  speed-up {row["speedup"]:.1f}x (with annotation loading '
          f'{row["speedup_total"]:.1f}x), largest |difference| over all metrics {diff:.1e}',
          flush=True)
    os.remove(_ANN_FILE)
    return row


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    if os.path.exists('/proc/cpuinfo'):
        with open('/proc/cpuinfo') as f:
            names = [line.split(':', 1)[1].strip() for line in f if line.startswith('model name')]
        cpu = names[0] if names else cpu
    return (f'{cpu}, {len(os.sched_getaffinity(0))} cores available; '
            f'Python {platform.python_version()}, numpy {version("numpy")}, '
            f'lvis {version("lvis")}, faster-coco-eval {version("faster-coco-eval")}, '
            f'pycocotools {version("pycocotools")}')


def markdown(rows, command) -> str:
    lines = [
        '# LVIS evaluation speed: LVIS API vs mmdet_tde', '',
        'Same synthetic LVIS v1-style annotations (1203 categories in LVIS v1\'s '
        'rare/common/frequent mix, negative and not-exhaustive category lists) and the same '
        'in-memory detections, evaluated by the LVIS API (`lvis` 0.5.3, run under numpy 2 by '
        "`mmdet_tde.evaluation`'s compat fix) and by `mmdet_tde.evaluation.evaluate_lvis` "
        '(what `FastLVISMetric` runs). *Evaluate* is from detections in memory to metrics; '
        '*load* reads the annotation file. Each side runs in its own process.', '',
        '| type | images | instances | detections | LVIS API load / evaluate (s) '
        '| fast load / evaluate (s) | speed-up (evaluate) | speed-up (load + evaluate) '
        '| max abs diff | peak memory LVIS API / fast (GiB) |',
        '|---|---|---|---|---|---|---|---|---|---|',
    ]
    for r in rows:
        lines.append(
            f"| {r['iou_type']} | {r['images']:,} | {r['instances']:,} | {r['detections']:,} "
            f"| {r['lvis_load']:.1f} / {r['lvis_eval']:.1f} | {r['fast_load']:.1f} / "
            f"{r['fast_eval']:.1f} | {r['speedup']:.1f}x | {r['speedup_total']:.1f}x "
            f"| {r['max_abs_diff']:.1e} | {r['lvis_peak_gib']:.1f} / {r['fast_peak_gib']:.1f} |")
    lines += [
        '', '## Reproduce', '', '```bash', command, '```', '',
        'The default (`python benchmarks/lvis_eval_speed.py`) runs 1,000 images for boxes '
        '(300 detections each) and 250 for masks (100 each) in a few minutes on 2 cores.', '',
        '## Machine', '', machine(), '',
    ]
    return '\n'.join(lines)


def main():
    args = parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp_dir:
        for num_images in args.images:
            rows.append(bench('bbox', num_images, args.dets_per_image, args.categories, tmp_dir))
        for num_images in args.mask_images:
            rows.append(
                bench('segm', num_images, args.mask_dets_per_image, args.categories, tmp_dir))
    print('\n' + markdown(rows, 'python benchmarks/lvis_eval_speed.py ' + ' '.join(sys.argv[1:])))
    if args.markdown:
        with open(args.markdown, 'w') as f:
            f.write(markdown(rows, 'python benchmarks/lvis_eval_speed.py ' +
                             ' '.join(sys.argv[1:])))


if __name__ == '__main__':
    main()
