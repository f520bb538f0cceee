# Mask R-CNN's box head with the TDE classifier: mmdet's Shared2FCBBoxHead
# (mmdet::_base_/models/mask-rcnn_r50_fpn.py) as TDEShared2FCBBoxHead. Box regression stays per
# class as in mmdet's Mask R-CNN: with one stage, the box refined for a detection's label does not
# depend on alpha. A config sets num_classes from its dataset and puts the head in
# model.roi_head.bbox_head.
_base_ = './tde_predictor.py'
tde_mask_rcnn_bbox_head = dict(
    type='TDEShared2FCBBoxHead',
    in_channels=256,
    fc_out_channels=1024,
    roi_feat_size=7,
    bbox_coder=dict(
        type='DeltaXYWHBBoxCoder',
        target_means=[0., 0., 0., 0.],
        target_stds=[0.1, 0.1, 0.2, 0.2]),
    reg_class_agnostic=False,
    cls_predictor_cfg=_base_.tde_predictor,
    # Eq. 7-9 are a softmax over C + 1 columns: the head refuses sigmoid and Seesaw losses
    loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
    loss_bbox=dict(type='L1Loss', loss_weight=1.0))
