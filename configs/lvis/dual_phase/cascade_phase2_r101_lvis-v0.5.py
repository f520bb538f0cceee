# Dual-phase training on LVIS v0.5, phase II: as cascade_phase2_r101.py (see there), on the v0.5
# phase-I model.
_base_ = './cascade_phase1_r101_lvis-v0.5.py'

phase1_config = 'configs/lvis/dual_phase/cascade_phase1_r101_lvis-v0.5.py'
phase1_dir = 'work_dirs/cascade_phase1_r101_lvis-v0.5/'

model = dict(
    type='DualPhaseCascadeRCNN',
    teacher_config=phase1_config,
    teacher_checkpoint=phase1_dir + 'epoch_20.pth',
    roi_head=dict(
        type='DualPhaseCascadeRoIHead',
        split_file=_base_.dual_phase_split,
        graph_loss_weight=None,  # lambda = sqrt(C1 / C2) from the split
        graph_reduction='mean',  # Eq. 8 sums over the boxes: 'sum' (see docs/dual_phase.md)
        intra_loss_weight=1.0,
        margin=0.5,
        num_negatives=2,
        # all columns: the phase-II rows start from dual_phase_phase2_init.pth
        bbox_head=[
            dict(head, cls_predictor_cfg=dict(type='Linear'))
            for head in _base_.model.roi_head.bbox_head
        ]))

train_dataloader = dict(
    dataset=dict(phase=2, memory_file=phase1_dir + 'dual_phase_memory.json'))

load_from = phase1_dir + 'dual_phase_phase2_init.pth'
