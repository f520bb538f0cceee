# Dual-phase training on LVIS v1.0, phase II: all 1203 categories, trained on the images holding
# an exemplar of the memory or a rare object (other objects ignored, as in phase I), from the
# phase-I weights, with the frozen phase-I model as teacher (graph-matching loss, weighted by
# lambda = sqrt(C1 / C2) from the split) and the intra-class margin loss in every box stage.
# After phase I:
#   tools/dist_dual_phase_prepare.sh configs/lvis/dual_phase/cascade_phase1_r101.py \
#       work_dirs/cascade_phase1_r101/epoch_20.pth 8
#   tools/dist_train.sh configs/lvis/dual_phase/cascade_phase2_r101.py 8
#   tools/dist_test.sh configs/lvis/dual_phase/cascade_phase2_r101.py \
#       work_dirs/cascade_phase2_r101/epoch_20.pth 8
_base_ = './cascade_phase1_r101.py'
from mmdet_tde.utils import phase2_model  # noqa: E402

phase1_config = 'configs/lvis/dual_phase/cascade_phase1_r101.py'
phase1_dir = 'work_dirs/cascade_phase1_r101/'

model = phase2_model(_base_.model, _base_.dual_phase_split, phase1_config,
                     phase1_dir + 'epoch_20.pth')

train_dataloader = dict(
    dataset=dict(phase=2, memory_file=phase1_dir + 'dual_phase_memory.json'))

load_from = phase1_dir + 'dual_phase_phase2_init.pth'
