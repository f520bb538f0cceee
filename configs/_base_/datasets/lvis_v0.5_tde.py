# LVIS v0.5 as the paper trains on it: plain random sampling (TDE needs no class statistics, so
# no repeat-factor sampling), single-scale 1333x800 input, evaluation with mmdet_tde's fast metric.
_base_ = 'mmdet::_base_/datasets/lvis_v0.5_instance.py'
custom_imports = dict(imports=['mmdet_tde'], allow_failed_imports=False)

num_classes = 1230
data_root = 'data/lvis_v0.5/'

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=(1333, 800), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='LVISV05Dataset',
        data_root=data_root,
        ann_file='annotations/lvis_v0.5_train.json',
        data_prefix=dict(img='train2017/'),
        filter_cfg=dict(filter_empty_gt=True, min_size=32),
        pipeline=train_pipeline,
        backend_args={{_base_.backend_args}}))

val_evaluator = dict(type='FastLVISMetric', ann_file=data_root + 'annotations/lvis_v0.5_val.json')
test_evaluator = val_evaluator
