# Modified from MMDetection 3.3 tools/train.py (Apache-2.0, OpenMMLab).
"""Train a detector: mmdet's ``tools/train.py`` arguments, plus CPU (gloo) distributed runs."""
import argparse
import os
import os.path as osp

from mmengine.config import DictAction
from mmengine.device import get_device
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from mmdet.utils import setup_cache_size_limit_of_dynamo

from mmdet_tde.engine.dual_phase_checks import check_phase2_inputs
from mmdet_tde.utils import checkpoint_loading, load_tool_config, run_tool, setup_cpu_distributed


def parse_args():
    parser = argparse.ArgumentParser(description='Train a detector with mmdet_tde heads')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument('--amp', action='store_true', help='automatic mixed precision training')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the lr by the real batch size / auto_scale_lr.base_batch_size')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from this checkpoint, or from the latest one in the work '
                        'dir when no path is given')
    parser.add_argument('--unsafe-load', action='store_true',
                        help='fully unpickle the checkpoints loaded (resume, load_from, the '
                        'dual-phase teacher), which can run code stored in them: only for files '
                        'you trust')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value (e.g. '
                        'train_cfg.max_epochs=1 or key="[a,b]" for lists)')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
                        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if args.amp and get_device() == 'cpu':
        # mmengine's AmpOptimWrapper would only fail with an assertion after building the model.
        parser.error('--amp needs a GPU (mixed precision runs on CUDA, NPU or MLU devices) and '
                     'none was found: train without --amp')
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main():
    args = parse_args()
    setup_cache_size_limit_of_dynamo()

    cfg = load_tool_config(args.config, args.launcher, args.cfg_options, args.work_dir)

    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'
    if args.auto_scale_lr:
        if 'base_batch_size' not in cfg.get('auto_scale_lr', {}):
            raise ValueError('--auto-scale-lr needs auto_scale_lr.base_batch_size in the config')
        cfg.auto_scale_lr.enable = True
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        if not osp.isfile(args.resume):
            raise FileNotFoundError(f'--resume checkpoint not found: {args.resume}')
        cfg.resume, cfg.load_from = True, args.resume
    check_phase2_inputs(cfg, unsafe=args.unsafe_load)

    setup_cpu_distributed(cfg, args.launcher)
    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
    with checkpoint_loading(unsafe=args.unsafe_load):
        runner.train()


if __name__ == '__main__':
    run_tool(main)
