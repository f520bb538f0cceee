# The three box heads of Cascade R-CNN with the TDE classifier: mmdet's Shared2FCBBoxHead stages
# (mmdet::_base_/models/cascade-mask-rcnn_r50_fpn.py) as TDEShared2FCBBoxHead, each stage with its
# own regression target stds (tighter as the stage's IoU threshold rises). HTC's box heads are
# the same three. A config sets num_classes from its dataset and puts the list in
# model.roi_head.bbox_head; as a variable, not a model, this base goes beside any detector base.
_base_ = './tde_predictor.py'
tde_cascade_bbox_heads = [
    dict(
        type='TDEShared2FCBBoxHead',
        in_channels=256,
        fc_out_channels=1024,
        roi_feat_size=7,
        bbox_coder=dict(
            type='DeltaXYWHBBoxCoder',
            target_means=[0., 0., 0., 0.],
            target_stds=[0.1, 0.1, 0.2, 0.2]),
        reg_class_agnostic=True,
        cls_predictor_cfg=_base_.tde_predictor,
        # Eq. 7-9 are a softmax over C + 1 columns: the heads refuse sigmoid and Seesaw losses
        loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
        loss_bbox=dict(type='SmoothL1Loss', beta=1.0, loss_weight=1.0)),
    dict(
        type='TDEShared2FCBBoxHead',
        in_channels=256,
        fc_out_channels=1024,
        roi_feat_size=7,
        bbox_coder=dict(
            type='DeltaXYWHBBoxCoder',
            target_means=[0., 0., 0., 0.],
            target_stds=[0.05, 0.05, 0.1, 0.1]),
        reg_class_agnostic=True,
        cls_predictor_cfg=_base_.tde_predictor,
        loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
        loss_bbox=dict(type='SmoothL1Loss', beta=1.0, loss_weight=1.0)),
    dict(
        type='TDEShared2FCBBoxHead',
        in_channels=256,
        fc_out_channels=1024,
        roi_feat_size=7,
        bbox_coder=dict(
            type='DeltaXYWHBBoxCoder',
            target_means=[0., 0., 0., 0.],
            target_stds=[0.033, 0.033, 0.067, 0.067]),
        reg_class_agnostic=True,
        cls_predictor_cfg=_base_.tde_predictor,
        loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
        loss_bbox=dict(type='SmoothL1Loss', beta=1.0, loss_weight=1.0))
]
