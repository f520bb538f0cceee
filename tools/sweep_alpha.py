"""Evaluate a TDE checkpoint at many alphas from one pass over the test set (paper Figure 4), or
any softmax checkpoint at many taus of post-hoc logit adjustment.

    python tools/sweep_alpha.py CONFIG CHECKPOINT --alphas 0 0.5 1 1.5 2 2.5 3
    tools/dist_sweep_alpha.sh CONFIG CHECKPOINT 8 --alphas 0 0.5 1 1.5 2 2.5 3
    tools/dist_sweep_alpha.sh CONFIG CHECKPOINT 8 --logit-adjust-taus 0 0.5 1 1.5

Prints a table of box / mask AP, APr, APc, APf per alpha, the mean cos(x, d_hat) of the test RoIs
(the authors' rule of thumb: choose alpha so that alpha * mean cos is about 1), and the cost of
each alpha after the first relative to one full test pass (the first alpha's); writes JSON and a
PNG plot to the work dir, and each category's AP change from alpha 0 to the best alpha (CSV, PNG).
With --tide, also TIDE's error types per frequency group at each alpha (tables in the log,
``alpha_sweep_errors.{csv,png}``): whether rare categories gain by fewer confusions with frequent
ones or pay with new background errors. The tau sweep writes the same (``logit_adjust_sweep.*``,
``tau_T/``), without the cosines.
"""
import argparse
import os.path as osp

from mmengine.config import DictAction
from mmengine.dist import is_main_process
from mmengine.logging import MMLogger
from mmengine.runner import Runner

from mmdet_tde.engine import (LOGIT_ADJUSTMENT_TAU, TDE_ALPHA, enable_tide, run_alpha_sweep,
                              run_logit_adjustment_sweep, sweep_ap_change, sweep_errors)
from mmdet_tde.engine.alpha_sweep import check_distinct, value_label
from mmdet_tde.fileio import atomic_path, check_output_path, write_json_atomic
from mmdet_tde.engine import (add_logit_adjustment_args, alpha_arg, apply_logit_adjustment_args,
                              check_head_directions, check_logit_adjustment_args)
from mmdet_tde.utils import checkpoint_loading, load_tool_config, run_tool, setup_cpu_distributed

COLUMNS = ('AP', 'APr', 'APc', 'APf')
DEFAULT_ALPHAS = [0, 0.5, 1, 1.5, 2, 2.5, 3]
X_LABEL = {TDE_ALPHA: 'alpha (Eq. 8)', LOGIT_ADJUSTMENT_TAU: 'tau (logit adjustment)'}


def parse_args():
    parser = argparse.ArgumentParser(description='Sweep the TDE alpha from one test pass')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--alphas', type=alpha_arg, nargs='+',
                        help='finite alphas >= 0 (Eq. 8); 0 is TDE off (default: '
                        f'{DEFAULT_ALPHAS})')
    add_logit_adjustment_args(
        parser, '--logit-adjust-taus', nargs='+',
        tau_help='sweep these taus >= 0 of post-hoc logit adjustment instead of alphas (0: none); '
        'TDE heads then infer without TDE')
    parser.add_argument('--tide', action='store_true',
                        help="also TIDE's error types per frequency group at each value (needs "
                        'a FastLVISMetric test evaluator)')
    parser.add_argument('--work-dir', help='where the JSON, the plot and per-alpha reports go')
    parser.add_argument('--unsafe-load', action='store_true',
                        help='fully unpickle the checkpoint, which can run code stored in it: '
                        'only for files you trust')
    parser.add_argument('--allow-missing-head-direction', action='store_true',
                        help='with --logit-adjust-taus: sweep even if the checkpoint leaves a TDE '
                        'classifier of the config without head direction (refused by default: a '
                        'checkpoint of another config, e.g. a baseline one)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
                        help='job launcher (tools/dist_sweep_alpha.sh sets pytorch)')
    args = parser.parse_args()
    check_logit_adjustment_args(parser, args, '--logit-adjust-taus')
    if args.logit_adjust_taus is not None and args.alphas is not None:
        parser.error('--alphas and --logit-adjust-taus: one sweep per run (logit adjustment '
                     'replaces TDE, so their combinations are not one pass)')
    if args.allow_missing_head_direction and args.logit_adjust_taus is None:
        parser.error('--allow-missing-head-direction applies only with --logit-adjust-taus: the '
                     'alpha sweep needs the head direction')
    if args.logit_adjust_taus is None and args.alphas is None:
        args.alphas = [float(a) for a in DEFAULT_ALPHAS]
    for flag, values in (('--alphas', args.alphas), ('--logit-adjust-taus',
                                                      args.logit_adjust_taus)):
        try:
            check_distinct(flag, values or [])
        except ValueError as error:
            parser.error(f'{error}: each is evaluated into its own folder')
    return args


def metric_value(metrics: dict, iou_type: str, name: str) -> float:
    """Find ``<prefix>/<iou_type>_<name>`` whatever the metric's prefix."""
    for key, value in metrics.items():
        if key.split('/')[-1] == f'{iou_type}_{name}':
            return float(value)
    return float('nan')


def table(result: dict, iou_types, setting=TDE_ALPHA) -> str:
    header = [setting.name] + [f'{t} {c}' for t in iou_types for c in COLUMNS]
    rows = [' | '.join(header), ' | '.join('---' for _ in header)]
    for value, metrics in zip(result[f'{setting.name}s'], result['metrics']):
        cells = [value_label(value)] + [f'{metric_value(metrics, t, c):.4f}'
                                        for t in iou_types for c in COLUMNS]
        rows.append(' | '.join(cells))
    return '\n'.join(f'| {row} |' for row in rows)


def plot(result: dict, iou_types, path: str, setting=TDE_ALPHA) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(iou_types), figsize=(5 * len(iou_types), 4), squeeze=False)
    for ax, iou_type in zip(axes[0], iou_types):
        for column in COLUMNS:
            values = [metric_value(m, iou_type, column) for m in result['metrics']]
            ax.plot(result[f'{setting.name}s'], values, marker='o', label=column)
        ax.set_xlabel(X_LABEL[setting])
        ax.set_ylabel(f'{iou_type} AP')
        ax.set_title(f'{iou_type}: AP vs {X_LABEL[setting]}')
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
    setting = TDE_ALPHA if args.logit_adjust_taus is None else LOGIT_ADJUSTMENT_TAU
    if setting is LOGIT_ADJUSTMENT_TAU:
        # the sweep passes each tau to the head; the config records the first
        apply_logit_adjustment_args(cfg, args, args.logit_adjust_taus[0])
    if args.tide:
        enable_tide(cfg.test_evaluator)
    setup_cpu_distributed(cfg, args.launcher)
    runner = Runner.from_cfg(cfg)
    outputs = ('.json', '.png') + (('_errors.csv', '_errors.png') if args.tide else ())
    for suffix in outputs:  # before the pass over the test set, not after it
        check_output_path(osp.join(runner.work_dir, setting.stem + suffix), 'sweep output')
    with checkpoint_loading(unsafe=args.unsafe_load):
        runner.load_checkpoint(args.checkpoint, map_location='cpu')
    # (the alpha sweep refuses such a checkpoint in any case: TDE needs the direction)
    if setting is LOGIT_ADJUSTMENT_TAU and not args.allow_missing_head_direction:
        check_head_directions(runner.model, args.checkpoint)
    if setting is TDE_ALPHA:
        result = run_alpha_sweep(runner, args.alphas)
    else:
        result = run_logit_adjustment_sweep(runner, args.logit_adjust_taus)
    if not is_main_process():
        return

    name = setting.name
    iou_types = [t for t in ('bbox', 'segm')
                 if any(k.split('/')[-1].startswith(f'{t}_') for k in result['metrics'][0])]
    logger = MMLogger.get_current_instance()
    lines = [f'{name} sweep results:', table(result, iou_types, setting)]
    if setting is TDE_ALPHA:
        cos = ', '.join(f'{c:.3f}' for c in result['mean_cos_head_direction'])
        lines.append(f'mean cos(x, d_hat) over test RoIs per stage: {cos}')
    seconds = result['seconds']
    lines.append(f'one full test pass (the first {name}): {seconds["one_full_pass"]:.1f} s; '
                 f'each further {name}, relative to it: '
                 + ', '.join(f'{value_label(v)}: {r:.2f}x' for v, r in
                             zip(result[f'{name}s'][1:], result[f'extra_{name}_cost_ratio'])))
    logger.info('\n'.join(lines))
    result['ap_change'] = sweep_ap_change(runner.work_dir, result[f'{name}s'], setting=setting)
    if args.tide:
        result['errors'] = sweep_errors(runner.work_dir, result[f'{name}s'], setting)
    json_path = osp.join(runner.work_dir, f'{setting.stem}.json')
    write_json_atomic(result, json_path, indent=2, default=float)
    png_path = osp.join(runner.work_dir, f'{setting.stem}.png')
    plot(result, iou_types, png_path, setting)
    logger.info(f'wrote {json_path} and {png_path}')


if __name__ == '__main__':
    run_tool(main)
