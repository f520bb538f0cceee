# Dual-phase training with the TDE heads on LVIS v0.5, phase II: as cascade_tde_phase2_r101.py
# (see there), on the v0.5 TDE phase-I model.
_base_ = './cascade_phase2_r101_lvis-v0.5.py'
from mmdet_tde.utils import tde_bbox_heads  # noqa: E402

phase1_config = 'configs/lvis/dual_phase/cascade_tde_phase1_r101_lvis-v0.5.py'
phase1_dir = 'work_dirs/cascade_tde_phase1_r101_lvis-v0.5/'
model = dict(
    teacher_config=phase1_config,
    teacher_checkpoint=phase1_dir + 'epoch_20.pth',
    roi_head=dict(bbox_head=tde_bbox_heads(_base_.model.roi_head.bbox_head)))
train_dataloader = dict(dataset=dict(memory_file=phase1_dir + 'dual_phase_memory.json'))
load_from = phase1_dir + 'dual_phase_phase2_init.pth'
