# mini-LVIS, dual-phase training, phase II: all categories, trained on the images that hold an
# exemplar of the memory or a phase-II (rare) object, from the phase-I weights, with the frozen
# phase-I model as teacher for the graph-matching loss and the intra-class margin loss added to
# every box stage. Workflow (README, "Dual-phase training"):
#   tools/dist_train.sh configs/minilvis/dual_phase/cascade_phase1_r18_minilvis.py 2
#   tools/dist_dual_phase_prepare.sh configs/minilvis/dual_phase/cascade_phase1_r18_minilvis.py \
#       work_dirs/cascade_phase1_r18_minilvis/epoch_4.pth 2
#   tools/dist_train.sh configs/minilvis/dual_phase/cascade_phase2_r18_minilvis.py 2
_base_ = './cascade_phase1_r18_minilvis.py'

phase1_config = 'configs/minilvis/dual_phase/cascade_phase1_r18_minilvis.py'
phase1_dir = 'work_dirs/cascade_phase1_r18_minilvis/'

model = dict(
    type='DualPhaseCascadeRCNN',
    teacher_config=phase1_config,
    teacher_checkpoint=phase1_dir + 'epoch_4.pth',
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
