# Dual-phase training on LVIS v0.5, phase I: as cascade_phase1_r101.py (see there) with LVIS
# v0.5's 1230 categories and files.
_base_ = '../cascade_baseline_r101_lvis-v0.5.py'
from mmdet_tde.utils import phase1_model  # noqa: E402

dual_phase_split = _base_.data_root + 'dual_phase_split.json'
phase1_policy = 'ignore'  # 'drop_images' and 'background' exist for the ablation only
ignore_iof_thr = 0.5

model = phase1_model(_base_.model, dual_phase_split, ignore_iof_thr)

train_dataloader = dict(
    dataset=dict(type='DualPhaseLVISV05Dataset', split_file=dual_phase_split, phase=1,
                 phase1_policy=phase1_policy))
