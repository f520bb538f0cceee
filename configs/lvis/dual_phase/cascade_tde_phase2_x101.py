# Dual-phase training with the TDE heads on LVIS v1.0, phase II, X101-64x4d-FPN:
# cascade_tde_phase2_r101.py with the ResNeXt backbone, taught by the X101 TDE phase-I model.
_base_ = ['./cascade_tde_phase2_r101.py', '../../_base_/models/resnext101_64x4d.py']

# mmengine reads a base before the config that inherits it: the paths cascade_tde_phase2_r101.py
# builds from its phase1 are built again here from this one's.
phase1 = 'cascade_tde_phase1_x101'
phase1_dir = f'work_dirs/{phase1}/'
model = dict(
    backbone=_base_.x101_backbone,
    teacher_config=f'configs/lvis/dual_phase/{phase1}.py',
    teacher_checkpoint=phase1_dir + 'epoch_20.pth')
train_dataloader = dict(dataset=dict(memory_file=phase1_dir + 'dual_phase_memory.json'))
load_from = phase1_dir + 'dual_phase_phase2_init.pth'
