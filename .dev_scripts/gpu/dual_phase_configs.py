"""Write the GPU check's dual-phase configs: the shipped TDE phase-I and phase-II configs,
iteration-based, on the check's data and split, phase II taught by the check's phase I.

A short run that shows the second method runs on the device, not a result: DP_ITERS iterations
a phase, the paths of the check's own steps instead of the shipped work_dirs.
"""
import argparse
from pathlib import Path

from mmengine.config import Config

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / 'configs' / 'minilvis' / 'dual_phase'
PHASE1 = 'cascade_tde_phase1_r18_minilvis.py'
PHASE2 = 'cascade_tde_phase2_r18_minilvis.py'


def shortened(base: Path, data_root: str, split: str, iters: int, batch: int, workers: int,
              log_interval: int) -> Config:
    cfg = Config.fromfile(str(base))
    data_root = data_root.rstrip('/') + '/'
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = data_root
        cfg[loader].num_workers = workers
        cfg[loader].persistent_workers = workers > 0
    cfg.train_dataloader.batch_size = batch
    cfg.train_dataloader.dataset.split_file = split
    cfg.val_evaluator.ann_file = data_root + 'annotations/minilvis_v1_val.json'
    cfg.test_evaluator.ann_file = cfg.val_evaluator.ann_file
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=iters, val_interval=iters + 1)
    cfg.param_scheduler = [dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
                                end=max(1, iters // 4))]
    cfg.log_processor = dict(by_epoch=False)
    cfg.default_hooks.logger.interval = log_interval
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', by_epoch=False, interval=iters)
    cfg.randomness = dict(seed=0)
    return cfg


def write_configs(out_dir: Path, data_root: str, split: str, iters: int, batch: int,
                  workers: int, log_interval: int, teacher_checkpoint: str,
                  prepared_dir: str) -> dict:
    """phase1.py and phase2.py in out_dir; returns their paths by name."""
    common = dict(data_root=data_root, split=split, iters=iters, batch=batch, workers=workers,
                  log_interval=log_interval)
    phase1 = shortened(CONFIGS / PHASE1, **common)
    for head in phase1.model.roi_head.bbox_head:  # the masked classifier reads the split too
        head.cls_predictor_cfg.split_file = split
    phase2 = shortened(CONFIGS / PHASE2, **common)
    paths = dict(phase1=out_dir / 'phase1.py', phase2=out_dir / 'phase2.py')
    phase2.merge_from_dict(dict(
        load_from=f'{prepared_dir}/dual_phase_phase2_init.pth',
        model=dict(teacher_config=str(paths['phase1']), teacher_checkpoint=teacher_checkpoint,
                   roi_head=dict(split_file=split)),
        train_dataloader=dict(dataset=dict(memory_file=f'{prepared_dir}/dual_phase_memory.json'))))
    out_dir.mkdir(parents=True, exist_ok=True)
    phase1.dump(str(paths['phase1']))
    phase2.dump(str(paths['phase2']))
    return paths


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('out_dir', type=Path, help='where phase1.py and phase2.py go')
    parser.add_argument('--data-root', required=True, help="mini-LVIS's folder")
    parser.add_argument('--split', required=True, help="tools/dual_phase_split.py's output")
    parser.add_argument('--iters', type=int, required=True, help='iterations of each phase')
    parser.add_argument('--batch', type=int, required=True, help='images an iteration')
    parser.add_argument('--workers', type=int, required=True, help='data loader workers')
    parser.add_argument('--log-interval', type=int, required=True)
    parser.add_argument('--teacher-checkpoint', required=True,
                        help="phase I's checkpoint after --iters iterations")
    parser.add_argument('--prepared-dir', required=True,
                        help="tools/dual_phase_prepare.py's --out-dir")
    args = parser.parse_args(argv)
    if args.iters < 1:
        parser.error('--iters must be >= 1')
    paths = write_configs(args.out_dir, args.data_root, args.split, args.iters, args.batch,
                          args.workers, args.log_interval, args.teacher_checkpoint,
                          args.prepared_dir)
    print('\n'.join(str(p) for p in paths.values()))


if __name__ == '__main__':
    main()
