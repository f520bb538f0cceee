"""Where a mini-LVIS training iteration spends its time, and what cheaper settings buy.

Each variant (a set of config options over the shipped mini-LVIS config) trains for real through
mmengine's Runner on ``--nproc`` gloo processes, one torchrun job per variant, one after
another in one invocation, so that the variants are compared side by side on the same machine.
Rank 0 times, per iteration: the data loader, the data preprocessor, backbone, neck, the RPN
(forward, targets, loss, proposals), each cascade stage's assignment and sampling, box head
(RoI extraction, forward, loss) and mask head (targets, forward, loss), the backward pass (with
DDP's gradient all-reduce inside it) and the optimizer step. The first ``--warmup`` iterations
are left out. Results: a table (ms per iteration and the ratio to the first variant) written to
``--out`` (markdown) and its JSON beside it.

    python benchmarks/minilvis_train_profile.py --iters 30 --warmup 8
    python benchmarks/minilvis_train_profile.py --rebuild   # the page again, from its JSON
"""
import argparse
import collections
import functools
import json
import os
import os.path as osp
import subprocess
import sys
import tempfile
import time

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = 'configs/minilvis/cascade_baseline_r18_minilvis.py'
# The settings the mini-LVIS configs had before they were made cheaper (the reference), and each
# change that made them so; 'shipped' is the config as it is.
def _channels(fpn, fc, mask, rois):
    return {'model.neck.out_channels': fpn, 'model.rpn_head.in_channels': fpn,
            'model.rpn_head.feat_channels': fpn,
            'model.roi_head.bbox_roi_extractor.out_channels': fpn,
            'model.roi_head.mask_roi_extractor.out_channels': fpn,
            'model.roi_head.mask_head.in_channels': fpn,
            'model.roi_head.mask_head.conv_out_channels': mask,
            **{f'model.roi_head.bbox_head.{stage}.in_channels': fpn for stage in range(3)},
            **{f'model.roi_head.bbox_head.{stage}.fc_out_channels': fc for stage in range(3)},
            **{f'model.train_cfg.rcnn.{stage}.sampler.num': rois for stage in range(3)}}


ROI_SAMPLING_2 = {f'model.roi_head.{kind}_roi_extractor.roi_layer.sampling_ratio': 2
                  for kind in ('bbox', 'mask')}
# name -> (what it changes, config options). The first is the reference of the ratios.
VARIANTS = {
    'before': ('the first version: 128 FPN channels, 512 box-head fc channels, 128 mask-head '
               'channels, 128 sampled RoIs per image and stage', _channels(128, 512, 128, 128)),
    'rois_64': ('as before, with 64 sampled RoIs', _channels(128, 512, 128, 64)),
    'rois_64+fc_256+mask_64': ('as before, with 64 RoIs, 256 fc and 64 mask-head channels',
                               _channels(128, 256, 64, 64)),
    'shipped': ('the config as it is: all that and 64 FPN channels', {}),
    'shipped+roi_sampling_2': ('RoIAlign with 2x2 samples per bin instead of adaptive',
                               ROI_SAMPLING_2),
}
SECTIONS = ('data', 'preprocess', 'backbone', 'neck', 'rpn', 'assign_sample', 'bbox_head',
            'mask_head', 'refine', 'backward', 'optimizer_step', 'other')


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--config', default=CONFIG)
    parser.add_argument('--variants', nargs='+', default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument('--iters', type=int, default=40)
    parser.add_argument('--warmup', type=int, default=10)
    parser.add_argument('--nproc', type=int, default=2)
    parser.add_argument('--port', type=int, default=29655)
    parser.add_argument('--out', default='docs/benchmarks/minilvis_train_profile.md')
    parser.add_argument('--rebuild', action='store_true',
                        help='redraw --out from the JSON beside it, without training')
    parser.add_argument('--worker', help=argparse.SUPPRESS)
    parser.add_argument('--result', help=argparse.SUPPRESS)
    parser.add_argument('--launcher', default='none', help=argparse.SUPPRESS)
    parser.add_argument('--local-rank', '--local_rank', type=int, default=0,
                        help=argparse.SUPPRESS)
    return parser.parse_args()


class SectionClock:
    """Wall time per named section, summed over one iteration (rank 0's own process)."""

    def __init__(self):
        self.current = collections.Counter()
        self.iterations = []

    def wrap(self, obj, method, section):
        original = getattr(obj, method)
        section_of = section if callable(section) else (lambda *a, **k: section)

        @functools.wraps(original)
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.current[section_of(*args, **kwargs)] += time.perf_counter() - start

        setattr(obj, method, timed)

    def close_iteration(self, total):
        self.current['other'] = total - sum(v for k, v in self.current.items() if k != 'data')
        self.iterations.append(dict(self.current, total=total))
        self.current = collections.Counter()


def instrument(runner, clock):
    """Wrap the model's parts and the optimizer wrapper of a built runner with ``clock``."""
    from mmengine.hooks import Hook

    model = runner.model.module if hasattr(runner.model, 'module') else runner.model
    clock.wrap(model.data_preprocessor, 'forward', 'preprocess')
    clock.wrap(model.backbone, 'forward', 'backbone')
    clock.wrap(model.neck, 'forward', 'neck')
    clock.wrap(model.rpn_head, 'loss_and_predict', 'rpn')
    roi_head = model.roi_head
    clock.wrap(roi_head, 'bbox_loss', 'bbox_head')
    clock.wrap(roi_head, 'mask_loss', 'mask_head')
    for stage in range(roi_head.num_stages):
        clock.wrap(roi_head.bbox_assigner[stage], 'assign', 'assign_sample')
        clock.wrap(roi_head.bbox_sampler[stage], 'sample', 'assign_sample')
        clock.wrap(roi_head.bbox_head[stage], 'refine_bboxes', 'refine')

    class IterationClock(Hook):
        priority = 'VERY_LOW'

        def __init__(self):
            self.ended = None

        def before_train(self, runner):
            # the optimizer wrapper is built when training starts
            clock.wrap(runner.optim_wrapper, 'backward', 'backward')
            clock.wrap(runner.optim_wrapper, 'step', 'optimizer_step')
            clock.wrap(runner.optim_wrapper, 'zero_grad', 'optimizer_step')

        def before_train_iter(self, runner, batch_idx, data_batch=None):
            self.started = time.perf_counter()
            if self.ended is not None:
                clock.current['data'] += self.started - self.ended

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            self.ended = time.perf_counter()
            clock.close_iteration(self.ended - self.started + clock.current['data'])

    runner.register_hook(IterationClock())


def worker(args):
    """One variant's training in this torchrun process; rank 0 writes the clock's iterations."""
    sys.path.insert(0, REPO)
    import torch.distributed as dist
    from mmengine.config import Config
    from mmengine.runner import Runner

    from mmdet_tde.fileio import write_json_atomic
    from mmdet_tde.utils import run_tool, setup_cpu_distributed

    def main():
        cfg = Config.fromfile(osp.join(REPO, args.config))
        cfg.merge_from_dict(VARIANTS[args.worker][1])
        cfg.launcher = args.launcher
        cfg.work_dir = tempfile.mkdtemp(prefix='minilvis_profile_')
        cfg.randomness = dict(seed=0, deterministic=False)
        cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=args.iters,
                             val_begin=args.iters + 1)
        cfg.param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False)]
        cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=10**9)
        cfg.default_hooks.logger = dict(type='LoggerHook', interval=10)
        setup_cpu_distributed(cfg, args.launcher)
        runner = Runner.from_cfg(cfg)
        clock = SectionClock()
        instrument(runner, clock)
        runner.train()
        if not dist.is_initialized() or dist.get_rank() == 0:
            write_json_atomic(dict(iterations=clock.iterations), args.result)

    run_tool(main)


def summarise(iterations, warmup):
    kept = iterations[warmup:]
    return {k: 1000 * sum(it.get(k, 0.0) for it in kept) / len(kept)
            for k in SECTIONS + ('total',)}


def table(results):
    names = list(results)
    reference = results[names[0]]['total']
    lines = ['| ms per iteration | ' + ' | '.join(names) + ' |', '|---|' + '---|' * len(names)]
    for key in SECTIONS + ('total',):
        cells = [f'{results[n][key]:.0f}' for n in names]
        lines.append(f'| {key} | ' + ' | '.join(cells) + ' |')
    lines.append('| total / ' + names[0] + ' | ' +
                 ' | '.join(f'{results[n]["total"] / reference:.2f}' for n in names) + ' |')
    return '\n'.join(lines)


def main():
    args = parse_args()
    if args.worker:
        return worker(args)
    from mmdet_tde.fileio import write_json_atomic
    os.chdir(REPO)
    if args.rebuild:
        with open(osp.splitext(args.out)[0] + '.json') as f:
            return write_page(json.load(f), args.out)
    results = {}
    for i, name in enumerate(args.variants):
        with tempfile.TemporaryDirectory() as tmp:
            result = osp.join(tmp, 'clock.json')
            cmd = [sys.executable, '-m', 'torch.distributed.run', f'--nproc_per_node={args.nproc}',
                   f'--master_port={args.port + i}', __file__, '--worker', name,
                   '--result', result, '--config', args.config, '--iters', str(args.iters),
                   '--launcher', 'pytorch' if args.nproc > 1 else 'none']
            if args.nproc == 1:
                cmd = [sys.executable, __file__, *cmd[cmd.index('--worker'):]]
            print(f'[profile] {name}: {VARIANTS[name][0]}', flush=True)
            subprocess.run(cmd, check=True, env=dict(os.environ, OMP_NUM_THREADS='1'))
            with open(result) as f:
                results[name] = summarise(json.load(f)['iterations'], args.warmup)
        print(table(results), flush=True)
    run = dict(config=args.config, iters=args.iters, warmup=args.warmup, nproc=args.nproc,
               variants={n: VARIANTS[n] for n in results}, ms_per_iteration=results)
    write_json_atomic(run, osp.splitext(args.out)[0] + '.json', sort_keys=True)
    write_page(run, args.out)


def largest_cuts(results, count=3):
    """The sections whose time fell most from the first variant to 'shipped', largest first."""
    first, shipped = results[next(iter(results))], results['shipped']
    cuts = sorted(SECTIONS, key=lambda k: shipped[k] - first[k])[:count]
    return ', '.join(f'{k} {first[k]:.0f} -> {shipped[k]:.0f} ms' for k in cuts)


def write_page(run, out):
    from mmdet_tde.fileio import atomic_open
    results = run['ms_per_iteration']
    names = list(results)
    paragraphs = [
        '# Where a mini-LVIS training iteration spends its time',
        f'`python benchmarks/minilvis_train_profile.py --iters {run["iters"]} --warmup '
        f'{run["warmup"]}` (`--rebuild` redraws this page from its JSON): {run["nproc"]} gloo '
        f'processes, {run["iters"]} iterations per variant, the first {run["warmup"]} left out, '
        'rank 0\'s wall time per section (forward sections only; every backward is in '
        '`backward`, DDP\'s gradient all-reduce with it). The options of each variant are in '
        'the JSON beside this page.',
        '\n'.join(f'- `{n}`: {run["variants"][n][0]}' for n in names),
        table(results)]
    if 'shipped' in results and names[0] != 'shipped':
        ratio = results['shipped']['total'] / results[names[0]]['total']
        paragraphs.append(
            f'The shipped settings take {ratio:.2f} of `{names[0]}`\'s time per iteration; the '
            f'largest cuts: {largest_cuts(results)}. Whether they train to the same AP is the '
            'learning curve\'s speed control ([longtail_schedule_minilvis.md]'
            '(longtail_schedule_minilvis.md)).')
    with atomic_open(out) as f:
        f.write('\n\n'.join(paragraphs) + '\n')
    print(f'[profile] wrote {out}')


if __name__ == '__main__':
    sys.exit(main())
