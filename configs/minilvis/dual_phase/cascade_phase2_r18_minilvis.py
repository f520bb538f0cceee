# mini-LVIS, dual-phase training, phase II: all categories, trained on the images that hold an
# exemplar of the memory or a phase-II (rare) object, from the phase-I weights, with the frozen
# phase-I model as teacher for the graph-matching loss and the intra-class margin loss added to
# every box stage. Workflow (README, "Dual-phase training"):
#   tools/dist_train.sh configs/minilvis/dual_phase/cascade_phase1_r18_minilvis.py 2
#   tools/dist_dual_phase_prepare.sh configs/minilvis/dual_phase/cascade_phase1_r18_minilvis.py \
#       work_dirs/cascade_phase1_r18_minilvis/epoch_4.pth 2
#   tools/dist_train.sh configs/minilvis/dual_phase/cascade_phase2_r18_minilvis.py 2
_base_ = './cascade_phase1_r18_minilvis.py'
from mmdet_tde.utils import phase2_model  # noqa: E402

phase1_config = 'configs/minilvis/dual_phase/cascade_phase1_r18_minilvis.py'
phase1_dir = 'work_dirs/cascade_phase1_r18_minilvis/'

model = phase2_model(_base_.model, _base_.dual_phase_split, phase1_config,
                     phase1_dir + 'epoch_4.pth')

train_dataloader = dict(
    dataset=dict(phase=2, memory_file=phase1_dir + 'dual_phase_memory.json'))

load_from = phase1_dir + 'dual_phase_phase2_init.pth'
