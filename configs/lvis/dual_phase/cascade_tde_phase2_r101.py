# Dual-phase training with the TDE heads on LVIS v1.0, phase II: cascade_phase2_r101.py with the
# causal-norm classifier, taught by the TDE phase-I model. The head direction continues from
# phase I; testing uses background-exempted TDE (tools/sweep_alpha.py: alpha 0 is dual-phase alone).
#   tools/dist_dual_phase_prepare.sh configs/lvis/dual_phase/cascade_tde_phase1_r101.py \
#       work_dirs/cascade_tde_phase1_r101/epoch_20.pth 8
#   tools/dist_train.sh configs/lvis/dual_phase/cascade_tde_phase2_r101.py 8
_base_ = './cascade_phase2_r101.py'
from mmdet_tde.utils import tde_bbox_heads  # noqa: E402

phase1_config = 'configs/lvis/dual_phase/cascade_tde_phase1_r101.py'
phase1_dir = 'work_dirs/cascade_tde_phase1_r101/'
model = dict(
    teacher_config=phase1_config,
    teacher_checkpoint=phase1_dir + 'epoch_20.pth',
    roi_head=dict(bbox_head=tde_bbox_heads(_base_.model.roi_head.bbox_head)))
train_dataloader = dict(dataset=dict(memory_file=phase1_dir + 'dual_phase_memory.json'))
load_from = phase1_dir + 'dual_phase_phase2_init.pth'
