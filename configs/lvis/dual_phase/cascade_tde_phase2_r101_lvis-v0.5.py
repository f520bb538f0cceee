# Dual-phase training with the TDE heads on LVIS v0.5, phase II: as cascade_tde_phase2_r101.py
# (see there), on the v0.5 TDE phase-I model.
_base_ = ['./cascade_phase2_r101_lvis-v0.5.py', '../../_base_/models/tde_cascade_bbox_heads.py']

# mmengine reads a base before the config that inherits it: the paths
# cascade_phase2_r101_lvis-v0.5.py builds from its phase1 are built again here from this one's.
phase1 = 'cascade_tde_phase1_r101_lvis-v0.5'
phase1_dir = f'work_dirs/{phase1}/'
model = dict(
    teacher_config=f'configs/lvis/dual_phase/{phase1}.py',
    teacher_checkpoint=phase1_dir + 'epoch_20.pth',
    roi_head=dict(
        # L_intra back, on the causal-norm classifier's cosine scores (the paper's form; the
        # linear phase-II config this one inherits leaves it out)
        intra_loss_weight=_base_.dual_phase_roi_head.intra_loss_weight,
        bbox_head=[
            dict(head, num_classes=_base_.num_classes) for head in _base_.tde_cascade_bbox_heads
        ]))
train_dataloader = dict(dataset=dict(memory_file=phase1_dir + 'dual_phase_memory.json'))
load_from = phase1_dir + 'dual_phase_phase2_init.pth'
