# Dual-phase training on LVIS v1.0, phase I: Cascade Mask R-CNN R101-FPN with the stock linear
# heads, trained on the frequent + common categories of all training images; rare objects are
# ignored (not background) by the RPN and every R-CNN assigner, and the rare classifier columns
# are masked. "Asynchronous Modeling: a dual-phase perspective for long-tailed recognition"
# (ICLR 2021 submission, OpenReview u846Bqhry_). Workflow: README, "Dual-phase training".
#   python tools/dual_phase_split.py data/lvis_v1/annotations/lvis_v1_train.json \
#       --out data/lvis_v1/dual_phase_split.json
#   tools/dist_train.sh configs/lvis/dual_phase/cascade_phase1_r101.py 8
_base_ = '../cascade_baseline_r101.py'

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
    dataset=dict(type='DualPhaseLVISV1Dataset', split_file=dual_phase_split, phase=1,
                 phase1_policy=phase1_policy))
