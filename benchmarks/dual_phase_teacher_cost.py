"""What the phase-I teacher costs in phase II of dual-phase training.

Two models from the same mini-LVIS (or LVIS) config family, with the same weights: phase II's
``DualPhaseCascadeRCNN`` (the frozen teacher runs its backbone, neck and box heads on every batch
for the graph-matching loss) and the same detector without teacher and extra losses (plain
``CascadeRCNN``, what phase II would cost without them). Full training iterations (forward,
loss, backward, SGD step) on the same synthetic batch, timed interleaved with the order swapped
every round; medians and the ratio. Memory: the teacher's parameters and buffers (it keeps no
activations: it runs under ``no_grad``), for the timed model and for the LVIS R101 config.

    python benchmarks/dual_phase_teacher_cost.py            # about two minutes on 2 CPU cores
"""
import argparse
import os.path as osp
import statistics
import sys
import tempfile
import time

import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper

from mmdet.registry import MODELS
from mmdet.testing import demo_mm_inputs
from mmdet.utils import register_all_modules

from mmdet_tde.fileio import atomic_open, make_split, write_json_atomic

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
PHASE1 = 'configs/minilvis/dual_phase/cascade_phase1_r18_minilvis.py'
PHASE2 = 'configs/minilvis/dual_phase/cascade_phase2_r18_minilvis.py'
LVIS_PHASE1 = 'configs/lvis/dual_phase/cascade_phase1_r101.py'


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--rounds', type=int, default=15)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--batch-size', type=int, default=2)
    parser.add_argument('--img-size', type=int, default=128)
    parser.add_argument('--out', default='work_dirs/dual_phase_teacher_cost.md',
                        help='markdown report (docs/benchmarks/dual_phase_teacher_cost.md to '
                        'record it)')
    return parser.parse_args()


def split_for(num_classes, directory):
    """A split of ``num_classes`` categories, every fifth one in phase II."""
    path = osp.join(directory, f'split_{num_classes}.json')
    categories = [dict(id=i, name=f'c{i}', frequency='r' if i % 5 == 0 else 'f')
                  for i in range(1, num_classes + 1)]
    write_json_atomic(make_split(categories), path)
    return path


def models(directory):
    """(with teacher, without), sharing the student's weights."""
    split = split_for(18, directory)
    phase1 = Config.fromfile(osp.join(REPO, PHASE1))
    for head in phase1.model.roi_head.bbox_head:
        head.cls_predictor_cfg.split_file = split
    phase1_config = osp.join(directory, 'phase1.py')
    phase1.dump(phase1_config)
    teacher = MODELS.build(phase1.model)
    teacher.init_weights()
    checkpoint = osp.join(directory, 'phase1.pth')
    torch.save(dict(state_dict=teacher.state_dict()), checkpoint)

    phase2 = Config.fromfile(osp.join(REPO, PHASE2))
    phase2.model.update(teacher_config=phase1_config, teacher_checkpoint=checkpoint)
    phase2.model.roi_head.split_file = split
    with_teacher = MODELS.build(phase2.model)
    plain_cfg = phase2.model.copy()
    for key in ('teacher_config', 'teacher_checkpoint'):
        plain_cfg.pop(key)
    plain_cfg.type = 'CascadeRCNN'
    plain_cfg.roi_head = dict(plain_cfg.roi_head, type='CascadeRoIHead')
    for key in ('split_file', 'graph_loss_weight', 'graph_reduction', 'graph_loss_form',
                'graph_temperature', 'graph_normalize', 'intra_loss_weight', 'margin',
                'num_negatives', 'intra_scores'):
        plain_cfg.roi_head.pop(key)
    plain = MODELS.build(plain_cfg)
    state = teacher.state_dict()
    with_teacher.load_state_dict(state)
    plain.load_state_dict(state)
    return with_teacher, plain


def train_step_timer(model, data):
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9))
    model.train()

    def step():
        start = time.perf_counter()
        model.train_step(data, wrapper)
        return time.perf_counter() - start
    return step


def tensor_bytes(module):
    return sum(t.numel() * t.element_size()
               for t in list(module.parameters()) + list(module.buffers()))


def main():
    args = parse_args()
    register_all_modules()
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as directory:
        with_teacher, plain = models(directory)
        data = demo_mm_inputs(args.batch_size, [[3, args.img_size, args.img_size]] *
                              args.batch_size, num_items=[4] * args.batch_size,
                              num_classes=18, with_mask=True)
        data = dict(inputs=[d for d in data['inputs']], data_samples=data['data_samples'])
        timers = dict(teacher=train_step_timer(with_teacher, data),
                      plain=train_step_timer(plain, data))
        times = {name: [] for name in timers}
        for i in range(args.warmup + args.rounds):
            order = list(timers) if i % 2 == 0 else list(timers)[::-1]
            for name in order:
                seconds = timers[name]()
                if i >= args.warmup:
                    times[name].append(seconds)
            print(f'[teacher cost] round {i + 1}/{args.warmup + args.rounds}', flush=True)
        teacher_mb = tensor_bytes(with_teacher.teacher) / 2**20
        student_mb = tensor_bytes(with_teacher) / 2**20

        lvis = Config.fromfile(osp.join(REPO, LVIS_PHASE1))
        for head in lvis.model.roi_head.bbox_head:
            head.cls_predictor_cfg.split_file = split_for(1203, directory)
        lvis_teacher_mb = tensor_bytes(MODELS.build(lvis.model)) / 2**20

    med = {name: statistics.median(values) for name, values in times.items()}
    rows = [
        '| measure | value |', '|---|---|',
        f'| training iteration without teacher (median of {args.rounds}) | '
        f'{med["plain"] * 1000:.0f} ms |',
        f'| training iteration with teacher and both losses | {med["teacher"] * 1000:.0f} ms |',
        f'| ratio | {med["teacher"] / med["plain"]:.2f}x |',
        f'| teacher parameters + buffers, timed model | {teacher_mb:.1f} MiB '
        f'(student {student_mb:.1f} MiB) |',
        f'| teacher parameters + buffers, LVIS R101 phase I (1203 classes) | '
        f'{lvis_teacher_mb:.1f} MiB |',
    ]
    report = ('# What the phase-I teacher costs in phase II\n\n'
              f'Reproduce: `python benchmarks/dual_phase_teacher_cost.py '
              f'{" ".join(sys.argv[1:])}`. mini-LVIS Cascade Mask R-CNN (R18-FPN), batch '
              f'{args.batch_size} of {args.img_size}x{args.img_size} synthetic images, CPU '
              f'({torch.get_num_threads()} threads), torch {torch.__version__}; the two models '
              'timed interleaved on the same batch with the same weights.\n\n'
              + '\n'.join(rows) + '\n')
    print(report)
    with atomic_open(args.out) as f:
        f.write(report)
    write_json_atomic(dict(seconds=times, median=med, teacher_mib=teacher_mb,
                           lvis_teacher_mib=lvis_teacher_mb), osp.splitext(args.out)[0] + '.json')


if __name__ == '__main__':
    main()
