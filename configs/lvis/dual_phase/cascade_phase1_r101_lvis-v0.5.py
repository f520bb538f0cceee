# Dual-phase training on LVIS v0.5, phase I: as cascade_phase1_r101.py (see there) with LVIS
# v0.5's 1230 categories and files.
_base_ = '../cascade_baseline_r101_lvis-v0.5.py'

dual_phase_split = _base_.data_root + 'dual_phase_split.json'
phase1_policy = 'ignore'  # 'drop_images' and 'background' exist for the ablation only
ignore_iof_thr = 0.5

model = dict(
    roi_head=dict(bbox_head=[
        # the phase-II columns masked out of every softmax, in training and testing
        dict(head, cls_predictor_cfg=dict(type='PhaseMaskedLinear', split_file=dual_phase_split))
        for head in _base_.model.roi_head.bbox_head
    ]),
    # a proposal covered by an ignored (phase-II) object is neither foreground nor background,
    # so that the RPN and the R-CNN stages do not learn rare objects as background
    train_cfg=dict(
        rpn=dict(assigner=dict(ignore_iof_thr=ignore_iof_thr)),
        rcnn=[
            dict(stage, assigner=dict(stage.assigner, ignore_iof_thr=ignore_iof_thr))
            for stage in _base_.model.train_cfg.rcnn
        ]))

train_dataloader = dict(
    dataset=dict(type='DualPhaseLVISV05Dataset', split_file=dual_phase_split, phase=1,
                 phase1_policy=phase1_policy))
