# Modified from MMDetection 3.3 tools/test.py (Apache-2.0, OpenMMLab).
"""Test (and evaluate) a detector; TDE inference settings and post-hoc logit adjustment can be
changed without retraining."""
import argparse
import os
import os.path as osp

from mmengine.config import DictAction
from mmengine.hooks import Hook
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from mmdet.engine.hooks.utils import trigger_visualization_hook
from mmdet.evaluation import DumpDetResults
from mmdet.utils import setup_cache_size_limit_of_dynamo

from mmdet_tde.fileio import check_not_input, check_output_path
from mmdet_tde.engine import (add_logit_adjustment_args, alpha_arg, apply_logit_adjustment_args,
                              check_head_directions, check_logit_adjustment_args, set_tde_inference)
from mmdet_tde.utils import checkpoint_loading, load_tool_config, run_tool, setup_cpu_distributed


def parse_args():
    parser = argparse.ArgumentParser(description='Test (and evaluate) a detector')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save the evaluation metrics')
    parser.add_argument('--out', help='dump predictions to a .pkl file for offline evaluation')
    parser.add_argument('--show', action='store_true', help='show prediction results')
    parser.add_argument('--show-dir', help='save painted images under work_dir/timestamp/DIR')
    parser.add_argument('--wait-time', type=float, default=2, help='the interval of show (s)')
    parser.add_argument('--tde-alpha', type=alpha_arg,
                        help='alpha of Eq. (8) for every TDE box head (no retraining needed)')
    parser.add_argument('--tde', choices=['on', 'off'],
                        help='switch TDE inference of every TDE box head on or off')
    parser.add_argument('--background-exempted', choices=['on', 'off'],
                        help='switch background-exempted inference (Eq. 9) on or off')
    add_logit_adjustment_args(
        parser, '--logit-adjust',
        tau_help='post-hoc logit adjustment with this tau >= 0 in the box head that gives the '
        'detections (any softmax checkpoint, no retraining; TDE heads need --tde off)')
    parser.add_argument('--unsafe-load', action='store_true',
                        help='fully unpickle the checkpoint, which can run code stored in it: '
                        'only for files you trust')
    parser.add_argument('--allow-missing-head-direction', action='store_true',
                        help='test even if the checkpoint leaves a TDE classifier of the config '
                        'without head direction (refused by default: a checkpoint of another '
                        'config, e.g. a baseline one, whose classifier was never trained)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
                        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    check_logit_adjustment_args(parser, args, '--logit-adjust')
    if args.logit_adjust is not None and (args.tde == 'on' or args.tde_alpha is not None
                                          or args.background_exempted is not None):
        parser.error('--logit-adjust takes the place of TDE (TDE heads infer without it and their '
                     'de-confounded logits are adjusted): --tde on, --tde-alpha and '
                     '--background-exempted do not apply; --logit-adjust-form sets its form')
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


class HeadDirectionCheck(Hook):
    """:func:`check_head_directions` once the checkpoint is loaded, before the first image
    (the runner loads it after its ``before_run`` hooks)."""

    def __init__(self, checkpoint: str):
        self.checkpoint = checkpoint

    def before_test(self, runner) -> None:
        check_head_directions(runner.model, self.checkpoint)


def on_off(value):
    return None if value is None else value == 'on'


def main():
    args = parse_args()
    setup_cache_size_limit_of_dynamo()
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {args.checkpoint}')
    if args.out is not None:
        if not args.out.endswith(('.pkl', '.pickle')):
            raise ValueError(f'--out must end with .pkl or .pickle, got {args.out}')
        check_output_path(args.out, '--out')
        check_not_input(args.out, [args.checkpoint, args.config], '--out')

    cfg = load_tool_config(args.config, args.launcher, args.cfg_options, args.work_dir)
    cfg.load_from = args.checkpoint
    if args.tde_alpha is not None or args.tde or args.background_exempted:
        set_tde_inference(cfg, alpha=args.tde_alpha, use_tde=on_off(args.tde),
                          background_exempted=on_off(args.background_exempted))
    if args.logit_adjust is not None:
        apply_logit_adjustment_args(cfg, args, args.logit_adjust)
    if args.show or args.show_dir:
        cfg = trigger_visualization_hook(cfg, args)

    setup_cpu_distributed(cfg, args.launcher)
    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
    if args.out is not None:
        runner.test_evaluator.metrics.append(DumpDetResults(out_file_path=args.out))
    if not args.allow_missing_head_direction:
        runner.register_hook(HeadDirectionCheck(args.checkpoint))
    with checkpoint_loading(unsafe=args.unsafe_load):
        runner.test()


if __name__ == '__main__':
    run_tool(main)
