# mini-LVIS, dual-phase training, phase II: all categories, trained on the images that hold an
# exemplar of the memory or a phase-II (rare) object, from the phase-I weights, with the frozen
# phase-I model as teacher for the graph-matching loss and the intra-class margin loss added to
# every box stage. What phase II changes in the phase-I config is written out below and in its
# RoI head base, configs/_base_/dual_phase/phase2.py.
# Workflow (README, "Dual-phase training"):
#   tools/dist_train.sh configs/minilvis/dual_phase/cascade_phase1_r18_minilvis.py 2
#   tools/dist_dual_phase_prepare.sh configs/minilvis/dual_phase/cascade_phase1_r18_minilvis.py \
#       work_dirs/cascade_phase1_r18_minilvis/epoch_4.pth 2
#   tools/dist_train.sh configs/minilvis/dual_phase/cascade_phase2_r18_minilvis.py 2
_base_ = ['./cascade_phase1_r18_minilvis.py', '../../_base_/dual_phase/phase2.py']

# The phase-I run this one continues, by its config's name: tools/train.py writes it to
# work_dirs/<name>/, where tools/dist_dual_phase_prepare.sh adds the memory and the initial
# weights. The split file comes with the phase-I config (its dual_phase_split).
phase1 = 'cascade_phase1_r18_minilvis'
phase1_dir = f'work_dirs/{phase1}/'

model = dict(
    type='DualPhaseCascadeRCNN',
    teacher_config=f'configs/minilvis/dual_phase/{phase1}.py',
    teacher_checkpoint=phase1_dir + 'epoch_4.pth',
    # the student's batch norm uses the running statistics, as the teacher (eval mode) does:
    # with the same weights, the two compute the same features at the first phase-II step
    backbone=dict(norm_eval=True),
    roi_head=dict(
        _base_.dual_phase_roi_head,  # the losses: configs/_base_/dual_phase/phase2.py
        # no L_intra on the linear heads' logits: on mini-LVIS it cost phase II about 18 mask
        # AP (docs/dual_phase.md); the TDE phase-II configs keep it, on their cosine scores
        intra_loss_weight=0.0,
        split_file=_base_.dual_phase_split,
        # every column again; the phase-II rows start from the prepared initial weights
        bbox_head=[
            dict(head, cls_predictor_cfg=dict(type='Linear'))
            for head in _base_.model.roi_head.bbox_head
        ]))

train_dataloader = dict(
    dataset=dict(phase=2, memory_file=phase1_dir + 'dual_phase_memory.json'))

load_from = phase1_dir + 'dual_phase_phase2_init.pth'

# Phase II's own schedule, relative to its own length (about 140 iterations here, a third of
# phase I's): phase I's shape compressed to phase II. Warm-up over the first warmup_fraction of
# phase II's iterations (phase I: 100 of its ~456), lr x 0.1 at lr_step_fractions of its epochs
# (rounded to whole epochs; phase I: epoch 3 of 4).
phase2_epochs = 4
warmup_fraction = 0.2
lr_step_fractions = [0.75]
train_cfg = dict(max_epochs=phase2_epochs, val_begin=phase2_epochs + 1)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0,
         end=warmup_fraction * phase2_epochs, convert_to_iter_based=True),
    dict(type='MultiStepLR', by_epoch=True, begin=0, end=phase2_epochs, gamma=0.1,
         milestones=[round(f * phase2_epochs) for f in lr_step_fractions])
]
