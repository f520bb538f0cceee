# ResNeXt-101 64x4d backbone settings, merged into a config's model.backbone.
x101_backbone = dict(
    type='ResNeXt',
    depth=101,
    groups=64,
    base_width=4,
    init_cfg=dict(type='Pretrained', checkpoint='open-mmlab://resnext101_64x4d'))
