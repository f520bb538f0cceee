# mini-LVIS, dual-phase training, phase I: the linear baseline trained on the phase-I categories
# (frequent + common) of all training images. Phase-II (rare) objects are marked ignored and the
# RPN and R-CNN assigners ignore proposals covered by them (ignore_iof_thr), so that rare objects
# are never learned as background. The classifier keeps all columns, the phase-II ones masked.
#   python tools/dual_phase_split.py data/minilvis/annotations/minilvis_v1_train.json \
#       --out data/minilvis/dual_phase_split.json
_base_ = '../cascade_baseline_r18_minilvis.py'
from mmdet_tde.utils import phase1_model  # noqa: E402

dual_phase_split = _base_.data_root + 'dual_phase_split.json'
# 'ignore' (default); 'drop_images' and 'background' exist for the ablation only.
phase1_policy = 'ignore'
ignore_iof_thr = 0.5

model = phase1_model(_base_.model, dual_phase_split, ignore_iof_thr)

train_dataloader = dict(
    dataset=dict(type='DualPhaseLVISV1Dataset', split_file=dual_phase_split, phase=1,
                 phase1_policy=phase1_policy))
