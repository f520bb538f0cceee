# Dual-phase training on LVIS v0.5, phase II: as cascade_phase2_r101.py (see there), on the v0.5
# phase-I model.
_base_ = './cascade_phase1_r101_lvis-v0.5.py'

# The phase-I run this one continues, by its config's name: tools/train.py writes it to
# work_dirs/<name>/, where tools/dist_dual_phase_prepare.sh adds the memory and the initial
# weights. The split file comes with the phase-I config (its dual_phase_split).
phase1 = 'cascade_phase1_r101_lvis-v0.5'
phase1_dir = f'work_dirs/{phase1}/'

model = dict(
    type='DualPhaseCascadeRCNN',
    teacher_config=f'configs/lvis/dual_phase/{phase1}.py',
    teacher_checkpoint=phase1_dir + 'epoch_20.pth',
    roi_head=dict(
        type='DualPhaseCascadeRoIHead',
        split_file=_base_.dual_phase_split,
        # DualPhaseRoIHeadMixin's defaults, written out (docs/dual_phase.md explains each)
        graph_loss_weight=None,  # None: lambda = sqrt(C1 / C2), read from the split
        graph_reduction='mean',
        intra_loss_weight=1.0,
        margin=0.5,
        num_negatives=2,
        # every column again; the phase-II rows start from the prepared initial weights
        bbox_head=[
            dict(head, cls_predictor_cfg=dict(type='Linear'))
            for head in _base_.model.roi_head.bbox_head
        ]))

train_dataloader = dict(
    dataset=dict(phase=2, memory_file=phase1_dir + 'dual_phase_memory.json'))

load_from = phase1_dir + 'dual_phase_phase2_init.pth'
