# The built-in mini-LVIS (tools/make_minilvis.py, docs/minilvis.md): 18 categories in LVIS's rare /
# common / frequent groups, 455 train and 150 val images of 128x128, in LVIS v1 format, read by
# mmdet's LVISV1Dataset and evaluated by FastLVISMetric (box and mask AP / APr / APc / APf).
num_classes = 18
classes = ('solid_red_circle', 'solid_blue_square', 'solid_green_triangle', 'solid_yellow_hexagon',
           'solid_purple_diamond', 'solid_orange_star', 'striped_cyan_circle',
           'dotted_green_square', 'striped_blue_triangle', 'dotted_red_hexagon',
           'solid_yellow_diamond', 'solid_cyan_star', 'striped_red_circle', 'dotted_blue_square',
           'striped_green_triangle', 'solid_orange_hexagon', 'solid_dark_red_circle',
           'striped_purple_diamond')
dataset_type = 'LVISV1Dataset'
data_root = 'data/minilvis/'
img_size = 128
backend_args = None

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=(img_size, img_size), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=(img_size, img_size), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]
train_dataloader = dict(
    batch_size=2,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/minilvis_v1_train.json',
        data_prefix=dict(img=''),
        metainfo=dict(classes=classes),
        filter_cfg=dict(filter_empty_gt=True, min_size=4),
        pipeline=train_pipeline,
        backend_args=backend_args))
val_dataloader = dict(
    batch_size=1,
    num_workers=1,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/minilvis_v1_val.json',
        data_prefix=dict(img=''),
        metainfo=dict(classes=classes),
        test_mode=True,
        pipeline=test_pipeline,
        backend_args=backend_args))
test_dataloader = val_dataloader
val_evaluator = dict(
    type='FastLVISMetric', ann_file=data_root + 'annotations/minilvis_v1_val.json',
    metric=['bbox', 'segm'])
test_evaluator = val_evaluator
