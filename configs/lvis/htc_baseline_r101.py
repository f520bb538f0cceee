# Baseline, Hybrid Task Cascade R101-FPN without the semantic branch (LVIS has no stuff
# segmentation), stock linear softmax box heads, LVIS v1.0, 20 epochs, 8 GPUs x 2 images.
# HTC is Cascade Mask R-CNN with interleaved box and mask branches and mask information flow:
# the model below equals mmdet's htc/htc-without-semantic_r50_fpn_1x_coco.py apart from the
# backbone depth, classes, LVIS test settings and padded masks (tests/test_configs.py checks it).
# That file is a whole COCO config, so it cannot be a base next to the LVIS data and schedule.
_base_ = './cascade_baseline_r101.py'
model = dict(
    type='HybridTaskCascade',
    roi_head=dict(
        type='HybridTaskCascadeRoIHead',
        interleaved=True,
        mask_info_flow=True,
        # the first stage has no earlier mask feature to add
        mask_head=[
            dict(_base_.model.roi_head.mask_head, type='HTCMaskHead', with_conv_res=False),
            dict(_base_.model.roi_head.mask_head, type='HTCMaskHead'),
            dict(_base_.model.roi_head.mask_head, type='HTCMaskHead')
        ]),
    # mmdet's HTC keeps the assigners' low-quality matching, which its Cascade R-CNN turns off
    train_cfg=dict(rcnn=[
        dict(stage, assigner=dict(stage.assigner, match_low_quality=True))
        for stage in _base_.model.train_cfg.rcnn
    ]))
