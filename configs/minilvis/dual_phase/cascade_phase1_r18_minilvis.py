# mini-LVIS, dual-phase training, phase I: the linear baseline trained on the phase-I categories
# (frequent + common) of all training images. Phase-II (rare) objects are marked ignored and the
# RPN and R-CNN assigners ignore proposals covered by them (ignore_iof_thr), so that rare objects
# are never learned as background. The classifier keeps all columns, the phase-II ones masked.
#   python tools/dual_phase_split.py data/minilvis/annotations/minilvis_v1_train.json \
#       --out data/minilvis/dual_phase_split.json
_base_ = '../cascade_baseline_r18_minilvis.py'

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
