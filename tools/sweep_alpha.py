"""Evaluate a TDE checkpoint at many alphas from one pass over the test set (paper Figure 4).

    python tools/sweep_alpha.py CONFIG CHECKPOINT --alphas 0 0.5 1 1.5 2 2.5 3
    tools/dist_sweep_alpha.sh CONFIG CHECKPOINT 8 --alphas 0 0.5 1 1.5 2 2.5 3

Prints a table of box / mask AP, APr, APc, APf per alpha, the mean cos(x, d_hat) of the test RoIs
(the authors' rule of thumb: choose alpha so that alpha * mean cos is about 1), and the cost of
each alpha after the first relative to one full test pass (the first alpha's); writes JSON and a
PNG plot to the work dir, and each category's AP change from alpha 0 to the best alpha (CSV, PNG).
"""
import argparse
import os.path as osp

from mmengine.config import DictAction
from mmengine.dist import is_main_process
from mmengine.logging import MMLogger
from mmengine.runner import Runner

from mmdet_tde.apis import run_alpha_sweep, sweep_ap_change
from mmdet_tde.fileio import atomic_path, write_json_atomic
from mmdet_tde.utils import (alpha_arg, checkpoint_loading, load_tool_config, run_tool,
                             setup_cpu_distributed)

COLUMNS = ('AP', 'APr', 'APc', 'APf')


def parse_args():
    parser = argparse.ArgumentParser(description='Sweep the TDE alpha from one test pass')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--alphas', type=alpha_arg, nargs='+', default=[0, 0.5, 1, 1.5, 2, 2.5, 3],
                        help='finite alphas >= 0 (Eq. 8); 0 is TDE off')
    parser.add_argument('--work-dir', help='where the JSON, the plot and per-alpha reports go')
    parser.add_argument('--unsafe-load', action='store_true',
                        help='fully unpickle the checkpoint, which can run code stored in it: '
                        'only for files you trust')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
                        help='job launcher (tools/dist_sweep_alpha.sh sets pytorch)')
    return parser.parse_args()


def metric_value(metrics: dict, iou_type: str, name: str) -> float:
    """Find ``<prefix>/<iou_type>_<name>`` whatever the metric's prefix."""
    for key, value in metrics.items():
        if key.split('/')[-1] == f'{iou_type}_{name}':
            return float(value)
    return float('nan')


def table(result: dict, iou_types) -> str:
    header = ['alpha'] + [f'{t} {c}' for t in iou_types for c in COLUMNS]
    rows = [' | '.join(header), ' | '.join('---' for _ in header)]
    for alpha, metrics in zip(result['alphas'], result['metrics']):
        cells = [f'{alpha:g}'] + [f'{metric_value(metrics, t, c):.4f}' for t in iou_types
                                  for c in COLUMNS]
        rows.append(' | '.join(cells))
    return '\n'.join(f'| {row} |' for row in rows)


def plot(result: dict, iou_types, path: str) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(iou_types), figsize=(5 * len(iou_types), 4), squeeze=False)
    for ax, iou_type in zip(axes[0], iou_types):
        for column in COLUMNS:
            values = [metric_value(m, iou_type, column) for m in result['metrics']]
            ax.plot(result['alphas'], values, marker='o', label=column)
        ax.set_xlabel('alpha (Eq. 8)')
        ax.set_ylabel(f'{iou_type} AP')
        ax.set_title(f'{iou_type}: AP vs TDE alpha')
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    # Written beside ``path`` and renamed: an interrupted run never leaves half a PNG.
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120)
    plt.close(fig)


def main():
    args = parse_args()
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {args.checkpoint}')
    cfg = load_tool_config(args.config, args.launcher, args.cfg_options, args.work_dir)
    setup_cpu_distributed(cfg, args.launcher)
    runner = Runner.from_cfg(cfg)
    with checkpoint_loading(unsafe=args.unsafe_load):
        runner.load_checkpoint(args.checkpoint, map_location='cpu')
    result = run_alpha_sweep(runner, args.alphas)
    if not is_main_process():
        return

    iou_types = [t for t in ('bbox', 'segm')
                 if any(k.split('/')[-1].startswith(f'{t}_') for k in result['metrics'][0])]
    logger = MMLogger.get_current_instance()
    cos = ', '.join(f'{c:.3f}' for c in result['mean_cos_head_direction'])
    seconds = result['seconds']
    logger.info('alpha sweep results:\n' + table(result, iou_types) +
                f'\nmean cos(x, d_hat) over test RoIs per stage: {cos}'
                f'\none full test pass (the first alpha): {seconds["one_full_pass"]:.1f} s; '
                'each further alpha, relative to it: '
                + ', '.join(f'{a:g}: {r:.2f}x' for a, r in
                            zip(result['alphas'][1:], result['extra_alpha_cost_ratio'])))
    result['ap_change'] = sweep_ap_change(runner.work_dir, result['alphas'])
    json_path = osp.join(runner.work_dir, 'alpha_sweep.json')
    write_json_atomic(result, json_path, indent=2, default=float)
    png_path = osp.join(runner.work_dir, 'alpha_sweep.png')
    plot(result, iou_types, png_path)
    logger.info(f'wrote {json_path} and {png_path}')


if __name__ == '__main__':
    run_tool(main)
