# Dual-phase training on LVIS v0.5, phase II: as cascade_phase2_r101.py (see there), on the v0.5
# phase-I model.
_base_ = './cascade_phase1_r101_lvis-v0.5.py'
from mmdet_tde.utils import phase2_model  # noqa: E402

phase1_config = 'configs/lvis/dual_phase/cascade_phase1_r101_lvis-v0.5.py'
phase1_dir = 'work_dirs/cascade_phase1_r101_lvis-v0.5/'

model = phase2_model(_base_.model, _base_.dual_phase_split, phase1_config,
                     phase1_dir + 'epoch_20.pth')

train_dataloader = dict(
    dataset=dict(phase=2, memory_file=phase1_dir + 'dual_phase_memory.json'))

load_from = phase1_dir + 'dual_phase_phase2_init.pth'
