# A small Cascade Mask R-CNN for the built-in mini-LVIS (tools/make_minilvis.py): ResNet-18 FPN
# from scratch, 128x128 images, narrower heads and fewer proposals and RoIs than the LVIS configs,
# so that it trains on 2 CPU cores in minutes (where its time goes:
# docs/benchmarks/minilvis_train_profile.md). Stock linear softmax box heads: the baseline.
_base_ = [
    'mmdet::_base_/models/cascade-mask-rcnn_r50_fpn.py', '../_base_/datasets/minilvis.py',
    'mmdet::_base_/default_runtime.py'
]
custom_imports = dict(imports=['mmdet_tde'], allow_failed_imports=False)

model = dict(
    data_preprocessor=dict(pad_size_divisor=32),
    backbone=dict(depth=18, frozen_stages=-1, norm_eval=False, init_cfg=None),
    neck=dict(in_channels=[64, 128, 256, 512], out_channels=64),
    rpn_head=dict(
        in_channels=64, feat_channels=64,
        anchor_generator=dict(scales=[4], strides=[4, 8, 16, 32, 64])),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=64),
        bbox_head=[
            dict(head, in_channels=64, fc_out_channels=256, num_classes=_base_.num_classes)
            for head in _base_.model.roi_head.bbox_head
        ],
        mask_roi_extractor=dict(out_channels=64),
        mask_head=dict(num_convs=2, in_channels=64, conv_out_channels=64,
                       num_classes=_base_.num_classes)),
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=600, max_per_img=300),
        rcnn=[
            dict(stage, sampler=dict(stage.sampler, num=64))
            for stage in _base_.model.train_cfg.rcnn
        ]),
    test_cfg=dict(
        rpn=dict(nms_pre=300, max_per_img=150),
        rcnn=dict(score_thr=0.0001, max_per_img=100)))

# 2 processes x 2 images; no validation while training: tools/test.py and tools/sweep_alpha.py
# evaluate the final checkpoint (mmengine would otherwise validate after the last epoch).
max_epochs = 4
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1,
                 val_begin=max_epochs + 1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[3], gamma=0.1)
]
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=0.0001),
    clip_grad=dict(max_norm=10, norm_type=2))
auto_scale_lr = dict(enable=False, base_batch_size=4)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=2))
