# mini-LVIS, repeat-factor sampling: the linear baseline trained on mmdet's ClassBalancedDataset,
# as mmdet's LVIS "sample1e-3" configs do. Same epochs as the baseline, so an epoch holds more
# iterations (images of rare categories are repeated).
#
# mmdet's LVIS configs use oversample_thr=1e-3: on LVIS's ~100k training images, categories in
# fewer than ~100 images (rare and common) are repeated, a 1-image category 10x. mini-LVIS has 455
# training images, so 1e-3 would repeat nothing; 100/455 puts the threshold at the same place in
# LVIS's frequency groups (100 images, the common/frequent boundary) and repeats a 1-image
# category 10x, as on LVIS.
_base_ = './cascade_baseline_r18_minilvis.py'

oversample_thr = 100 / 455
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='ClassBalancedDataset',
        oversample_thr=oversample_thr,
        dataset=_base_.train_dataloader.dataset))
