# mini-LVIS, de-confound-TDE with repeat-factor sampling: the TDE heads of
# cascade_tde_r18_minilvis.py trained on mmdet's ClassBalancedDataset as cascade_rfs_r18_minilvis.py
# is (mmdet's LVIS configs all sample so: does TDE add to it?).
_base_ = ['./cascade_tde_r18_minilvis.py']

oversample_thr = 100 / 455
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='ClassBalancedDataset',
        oversample_thr=oversample_thr,
        dataset=_base_.train_dataloader.dataset))
