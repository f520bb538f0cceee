# Dual-phase training on LVIS v0.5, phase II: as cascade_phase2_r101.py (see there), on the v0.5
# phase-I model.
_base_ = ['./cascade_phase1_r101_lvis-v0.5.py', '../../_base_/dual_phase/phase2.py']

# The phase-I run this one continues, by its config's name: tools/train.py writes it to
# work_dirs/<name>/, where tools/dist_dual_phase_prepare.sh adds the memory and the initial
# weights. The split file comes with the phase-I config (its dual_phase_split).
phase1 = 'cascade_phase1_r101_lvis-v0.5'
phase1_dir = f'work_dirs/{phase1}/'

model = dict(
    type='DualPhaseCascadeRCNN',
    teacher_config=f'configs/lvis/dual_phase/{phase1}.py',
    teacher_checkpoint=phase1_dir + 'epoch_20.pth',
    # the student's batch norm uses the running statistics, as the teacher (eval mode) does
    # (the base's value already; written out, as DualPhaseCascadeRCNN requires it)
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

# Phase II's own schedule, relative to its own length (it trains on the images holding an
# exemplar or a rare object, about a tenth of phase I's): phase I's shape compressed to phase
# II. Warm-up over the first warmup_fraction of phase II's iterations (phase I: 500 of its
# ~125k), lr x 0.1 at lr_step_fractions of its epochs (whole epochs; phase I: 16 and 19 of 20).
phase2_epochs = 20
warmup_fraction = 0.004
lr_step_fractions = [0.8, 0.95]
train_cfg = dict(max_epochs=phase2_epochs, val_interval=phase2_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=True, begin=0,
         end=warmup_fraction * phase2_epochs, convert_to_iter_based=True),
    dict(type='MultiStepLR', by_epoch=True, begin=0, end=phase2_epochs, gamma=0.1,
         milestones=[round(f * phase2_epochs) for f in lr_step_fractions])
]
