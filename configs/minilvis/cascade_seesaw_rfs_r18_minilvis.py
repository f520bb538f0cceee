# mini-LVIS, Seesaw loss with repeat-factor sampling: mmdet's strongest Seesaw recipe for LVIS
# ("sample1e-3" Seesaw configs), with the threshold scaled to mini-LVIS as in
# cascade_rfs_r18_minilvis.py.
_base_ = ['./cascade_seesaw_r18_minilvis.py']

oversample_thr = 100 / 455
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='ClassBalancedDataset',
        oversample_thr=oversample_thr,
        dataset=_base_.train_dataloader.dataset))
