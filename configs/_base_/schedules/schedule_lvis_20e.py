# The paper's LVIS schedule: SGD (momentum 0.9), lr 0.02 for 8 GPUs x 2 images, 20 epochs,
# lr x0.1 at epochs 16 and 19. auto_scale_lr rescales it for another total batch size.
_base_ = 'mmdet::_base_/schedules/schedule_2x.py'
# A pass over LVIS val costs about an hour: validate once, after the last epoch, as mmdet's LVIS
# configs do (mmengine also validates after the last epoch when max_epochs is shortened).
train_cfg = dict(max_epochs=20, val_interval=20)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', begin=0, end=20, by_epoch=True, milestones=[16, 19], gamma=0.1)
]
optim_wrapper = dict(optimizer=dict(lr=0.02, momentum=0.9, weight_decay=0.0001))
auto_scale_lr = dict(enable=False, base_batch_size=16)
