"""Time the LVIS API and bare hotcoco against mmdet_tde's fast LVIS evaluation on synthetic
LVIS-scale data.

All evaluate the same detections of the same annotation file. Every evaluation runs in its
own fresh process(es), which load the annotation file and their detections from disk first,
so the peak memory reported is each process's own. Bare hotcoco is its LVIS drop-in
(``LVISResults`` + ``LVISeval``), the engine under ours, whose cost over it is our overhead.
The fast evaluation runs in one process and, with ``--nproc``, shared between N processes
(each starts with its share of the images' detections in memory, as in a distributed test,
and evaluates a share of the categories). ``tools/eval_lvis.py`` is timed as a user runs it,
the whole command on the JSON files. Printed per scale: loading and evaluation times,
speed-ups, peak memory per process, and the largest absolute difference over AP, AP50, AP75,
APs, APm, APl, APr, APc, APf, AR@300 of ours (against the LVIS API, or against one process
with ``--skip-lvis-api``) and of bare hotcoco.

    python benchmarks/lvis_eval_speed.py                       # default scale, a few minutes
    python benchmarks/lvis_eval_speed.py --images 1000 5000 --mask-images 250 1000 \
        --markdown docs/benchmarks/lvis_eval_speed.md
    python benchmarks/lvis_eval_speed.py --images 19809 --mask-images 19809 \
        --mask-dets-per-image 300 --nproc 1 2 --skip-lvis-api \
        --markdown docs/benchmarks/lvis_eval_speed_full.md    # LVIS v1 val size
"""
import argparse
import contextlib
import gc
import io
import os
import pickle
import platform
import resource
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version

from mmdet_tde.evaluation import patch_lvis_numpy
from mmdet_tde.evaluation.detection_exchange import shard_by_image
from mmdet_tde.evaluation.fast_lvis import METRIC_NAMES, evaluate_lvis, load_lvis_annotations
from mmdet_tde.fileio import atomic_open, write_json_atomic
from mmdet_tde.testing import make_lvis_annotations, make_lvis_detections
from mmdet_tde.utils.process_group import run_in_processes


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
    parser.add_argument('--nproc', type=int, nargs='+', default=[1],
                        help='process counts of the fast evaluation (the first is the '
                        'reference of the speed-ups)')
    parser.add_argument('--skip-lvis-api', action='store_true',
                        help='do not run the LVIS API (hours and tens of GiB at full scale)')
    parser.add_argument('--tool', action='store_true',
                        help='also time tools/eval_lvis.py on the JSON files (writes the '
                        'detections as JSON)')
    parser.add_argument('--repeats', type=int, default=1,
                        help='time bare hotcoco and ours this many times each and report the '
                        'run of median evaluate time (a shared machine makes single runs vary)')
    parser.add_argument('--markdown', help='also write the results as a markdown page here')
    parser.add_argument('--json', default='work_dirs/lvis_eval_speed.json',
                        help='the measurements as JSON')
    return parser.parse_args()


def _peak_gib() -> float:
    """This process's own peak resident memory (VmHWM). Not ``ru_maxrss``: Linux keeps that
    across the fork and exec that start a worker, so every worker would report at least its
    parent's memory at the start."""
    if not os.path.isfile('/proc/self/status'):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    with open('/proc/self/status') as f:
        return next(int(line.split()[1]) for line in f if line.startswith('VmHWM:')) / 2**20


def _lvis_api_worker(group, ann_file, dets_file, iou_type):
    patch_lvis_numpy()
    from lvis import LVIS, LVISEval, LVISResults
    with open(dets_file, 'rb') as f:
        dets = pickle.load(f)
    held = _peak_gib()
    start = time.perf_counter()
    gt = LVIS(ann_file)
    loaded = time.perf_counter()
    lvis_eval = LVISEval(gt, LVISResults(gt, dets), iou_type)
    lvis_eval.run()
    done = time.perf_counter()
    return (loaded - start, done - loaded, _peak_gib(), held,
            {k: float(v) for k, v in lvis_eval.results.items()})


def _hotcoco_worker(group, ann_file, dets_file, iou_type):
    import hotcoco
    with open(dets_file, 'rb') as f:
        dets = pickle.load(f)
    held = _peak_gib()
    start = time.perf_counter()
    gt = hotcoco.COCO(ann_file)
    loaded = time.perf_counter()
    lvis_eval = hotcoco.LVISeval(gt, hotcoco.LVISResults(gt, dets, max_dets=300), iou_type)
    with contextlib.redirect_stdout(io.StringIO()):  # its summary table
        lvis_eval.run()
    done = time.perf_counter()
    return loaded - start, done - loaded, _peak_gib(), held, lvis_eval.get_results()


def _tool_seconds(ann_file, results_file, iou_type) -> float:
    """``tools/eval_lvis.py`` on the JSON files, the whole command."""
    tool = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tools',
                        'eval_lvis.py')
    start = time.perf_counter()
    subprocess.run([sys.executable, tool, results_file, ann_file, '--iou-type', iou_type],
                   check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    os.remove(results_file)
    return seconds


def _fast_worker(group, ann_file, shard_file, iou_type):
    with open(shard_file.format(rank=group.rank), 'rb') as f:
        share, order = pickle.load(f)
    held = _peak_gib()
    start = time.perf_counter()
    gt = load_lvis_annotations(ann_file)
    loaded = time.perf_counter()
    group.all_gather(None)  # all start together
    begin = time.perf_counter()
    result = evaluate_lvis(gt, share, iou_type, group=group, order=order)
    done = time.perf_counter()
    return (loaded - start, done - begin, _peak_gib(), held,
            None if result is None else result.summary)


def _in_processes(worker, nproc, *args):
    """Run ``worker`` in ``nproc`` fresh processes: rank 0's (load s, evaluate s, metrics),
    every process's peak memory and the memory it held once its detections were loaded."""
    replies = run_in_processes(worker, nproc, *args)
    for error, _ in replies:
        if error is not None:
            raise error
    load_s, eval_s, _, _, metrics = replies[0][1]
    return (load_s, eval_s, metrics, [value[2] for _, value in replies],
            [value[3] for _, value in replies])


def _median_run(repeats, worker, nproc, *args):
    """:func:`_in_processes` ``repeats`` times: the run of median evaluate time, and every
    run's evaluate time."""
    runs = sorted((_in_processes(worker, nproc, *args) for _ in range(repeats)),
                  key=lambda run: run[1])
    return (*runs[len(runs) // 2], [run[1] for run in runs])


def bench(iou_type, num_images, dets_per_image, args, tmp_dir):
    start = time.perf_counter()
    gt = make_lvis_annotations(num_images, args.categories, seed=num_images)
    dets = make_lvis_detections(gt, iou_type, dets_per_image, seed=num_images + 1)
    ann_file = os.path.join(tmp_dir, f'lvis_synthetic_{num_images}.json')
    dets_file = os.path.join(tmp_dir, f'dets_{iou_type}_{num_images}.pkl')
    write_json_atomic(gt, ann_file)
    with open(dets_file, 'wb') as f:
        pickle.dump(dets, f, protocol=pickle.HIGHEST_PROTOCOL)
    row = dict(iou_type=iou_type, images=num_images, categories=args.categories,
               instances=len(gt['annotations']), detections=len(dets), fast={})
    del gt
    # Every worker reads its input from a file, written now: the parent then lets go of the
    # detections, which at LVIS val size with masks would otherwise sit beside each worker's
    # own copy (6.8 GiB here).
    shard_files = {}
    for nproc in args.nproc:
        shard_files[nproc] = os.path.join(tmp_dir, f'shard_{nproc}_{{rank}}.pkl')
        for rank in range(nproc):
            share = shard_by_image(dets, nproc, rank) if nproc > 1 else (dets, None)
            with open(shard_files[nproc].format(rank=rank), 'wb') as f:
                pickle.dump(share, f, protocol=pickle.HIGHEST_PROTOCOL)
            del share
    results_file = os.path.join(tmp_dir, 'results.json')
    if args.tool:
        write_json_atomic(dets, results_file, indent=None)
    del dets
    gc.collect()
    print(f"[{iou_type}] {num_images} images, {row['instances']} instances, "
          f"{row['detections']} detections: generated in {time.perf_counter() - start:.0f} s",
          flush=True)
    reference = None
    if not args.skip_lvis_api:
        load_s, eval_s, reference, peaks, held = _in_processes(_lvis_api_worker, 1, ann_file,
                                                               dets_file, iou_type)
        row['lvis_api'] = dict(load=load_s, evaluate=eval_s, peak_gib=peaks, input_gib=held)
        print(f'  LVIS API: load {load_s:.1f} s, evaluate {eval_s:.1f} s, '
              f'peak {peaks[0]:.1f} GiB', flush=True)
    load_s, eval_s, hotcoco_metrics, peaks, held, times = _median_run(
        args.repeats, _hotcoco_worker, 1, ann_file, dets_file, iou_type)
    row['hotcoco'] = dict(load=load_s, evaluate=eval_s, peak_gib=peaks, input_gib=held,
                          evaluate_runs=times)
    print(f'  bare hotcoco: load {load_s:.1f} s, evaluate {eval_s:.1f} s '
          f"({' / '.join(f'{t:.1f}' for t in times)}), "
          f'peak {peaks[0]:.1f} GiB', flush=True)
    for nproc, shard_file in shard_files.items():
        load_s, eval_s, metrics, peaks, held, times = _median_run(
            args.repeats, _fast_worker, nproc, ann_file, shard_file, iou_type)
        for rank in range(nproc):
            os.remove(shard_file.format(rank=rank))
        reference = reference or metrics
        diff = max(abs(metrics[k] - reference[k]) for k in METRIC_NAMES)
        row['fast'][nproc] = dict(load=load_s, evaluate=eval_s, peak_gib=peaks, input_gib=held,
                                  evaluate_runs=times, max_abs_diff=diff, AP=metrics['AP'],
                                  APr=metrics['APr'])
        print(f'  fast, {nproc} process(es): load {load_s:.1f} s, evaluate {eval_s:.1f} s '
              f"({' / '.join(f'{t:.1f}' for t in times)}), "
              f"peak {' / '.join(f'{p:.1f}' for p in peaks)} GiB, "
              f'largest |difference| {diff:.1e}', flush=True)
    row['hotcoco']['max_abs_diff'] = max(abs(hotcoco_metrics[k] - reference[k])
                                         for k in METRIC_NAMES)
    os.remove(dets_file)
    if args.tool:
        row['tool'] = _tool_seconds(ann_file, results_file, iou_type)
        print(f"  tools/eval_lvis.py: {row['tool']:.1f} s", flush=True)
    os.remove(ann_file)
    return row


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    if os.path.exists('/proc/cpuinfo'):
        with open('/proc/cpuinfo') as f:
            names = [line.split(':', 1)[1].strip() for line in f if line.startswith('model name')]
        cpu = names[0] if names else cpu
    return (f'{cpu}, {len(os.sched_getaffinity(0))} cores available; '
            f'Python {platform.python_version()}, numpy {version("numpy")}, '
            f'lvis {version("lvis")}, hotcoco {version("hotcoco")}, '
            f'faster-coco-eval {version("faster-coco-eval")}, '
            f'pycocotools {version("pycocotools")}')


def markdown(rows, args, command) -> str:
    reference = 'one process' if args.skip_lvis_api else 'the LVIS API'
    first = args.nproc[0]
    tool = args.tool and not args.skip_lvis_api
    lines = [
        '# LVIS evaluation speed: LVIS API vs bare hotcoco vs mmdet_tde', '',
        'Same synthetic LVIS v1-style annotations (1203 categories in LVIS v1\'s '
        'rare/common/frequent mix, negative and not-exhaustive category lists) and the same '
        'detections, evaluated by the LVIS API (`lvis` 0.5.3, run under numpy 2 by '
        "`mmdet_tde.evaluation`'s compat fix), by bare hotcoco (`LVISResults` + `LVISeval`, "
        'the engine under ours) and by `mmdet_tde.evaluation.evaluate_lvis` (what '
        '`FastLVISMetric` and `tools/eval_lvis.py` run), in one process and shared between N '
        'processes. *Evaluate* is from detections in memory to metrics (shared: each process '
        'starts with its share of the images)'
        + (f'; bare hotcoco and ours: the median of {args.repeats} runs' if args.repeats > 1
           else '') + '; *load* reads the annotation file. *overhead* '
        'is our one-process evaluate time over bare hotcoco\'s. Every evaluation runs in '
        'fresh processes, so peak memory is per process; *input* is what a process held once '
        'its detections were loaded, before evaluating (part of its peak). *max abs diff* is '
        'over the ten '
        f'summary metrics, against {reference}.'
        + (' *tool* is `tools/eval_lvis.py` on the JSON files, the whole command, and its '
           'speed-up is over the LVIS API\'s load + evaluate.' if tool else ''), '',
        '| type | images | detections | LVIS API load / evaluate (s) '
        '| bare hotcoco load / evaluate (s) | fast load (s) '
        + ''.join(f'| fast evaluate, {n} proc. (s) ' for n in args.nproc)
        + '| overhead vs bare hotcoco '
        + ''.join(f'| speed-up {n} vs {first} ' for n in args.nproc[1:])
        + '| speed-up vs LVIS API ' * (not args.skip_lvis_api)
        + '| tool (s) | tool speed-up vs LVIS API ' * tool
        + ''.join(f'| peak per process, {n} proc. (GiB) ' for n in args.nproc)
        + '| input, 1 proc. (GiB) | bare hotcoco peak (GiB) '
        + '| max abs diff, fast / bare hotcoco |',
    ]
    num_cols = lines[-1].count('|') - 1
    lines.append('|' + '---|' * num_cols)
    for r in rows:
        fast = r['fast']
        api, bare = r.get('lvis_api'), r['hotcoco']
        cells = [r['iou_type'], f"{r['images']:,}", f"{r['detections']:,}",
                 f"{api['load']:.1f} / {api['evaluate']:.1f}" if api else '-',
                 f"{bare['load']:.1f} / {bare['evaluate']:.1f}", f"{fast[first]['load']:.1f}"]
        cells += [f"{fast[n]['evaluate']:.1f}" for n in args.nproc]
        cells.append(f"{fast[first]['evaluate'] / bare['evaluate']:.2f}x")
        cells += [f"{fast[first]['evaluate'] / fast[n]['evaluate']:.2f}x" for n in args.nproc[1:]]
        if api:
            cells.append(f"{api['evaluate'] / fast[first]['evaluate']:.1f}x")
        if tool:
            cells += [f"{r['tool']:.1f}", f"{(api['load'] + api['evaluate']) / r['tool']:.1f}x"]
        cells += [' / '.join(f'{p:.1f}' for p in fast[n]['peak_gib']) for n in args.nproc]
        cells += [f"{fast[first]['input_gib'][0]:.1f}", f"{bare['peak_gib'][0]:.1f}"]
        cells.append(f"{max(f['max_abs_diff'] for f in fast.values()):.1e} / "
                     f"{bare['max_abs_diff']:.1e}")
        lines.append('| ' + ' | '.join(cells) + ' |')
    lines += ['', '## Reproduce', '', '```bash', command, '```', '', '## Machine', '',
              machine(), '']
    return '\n'.join(lines)


def main():
    args = parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp_dir:
        for num_images in args.images:
            rows.append(bench('bbox', num_images, args.dets_per_image, args, tmp_dir))
            write_json_atomic(rows, args.json)
        for num_images in args.mask_images:
            rows.append(bench('segm', num_images, args.mask_dets_per_image, args, tmp_dir))
            write_json_atomic(rows, args.json)
    command = 'python benchmarks/lvis_eval_speed.py ' + ' '.join(sys.argv[1:])
    page = markdown(rows, args, command)
    print('\n' + page)
    if args.markdown:
        with atomic_open(args.markdown) as f:
            f.write(page)


if __name__ == '__main__':
    main()
