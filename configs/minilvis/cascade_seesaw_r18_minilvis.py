# mini-LVIS, Seesaw loss: mmdet's own Seesaw recipe for Cascade Mask R-CNN on LVIS ("normed-mask"
# configs: a normalised linear box classifier with temperature 20 and SeesawLoss p=0.8, q=2.0 in
# every stage, and the normalised mask predictor), on the mini-LVIS detector and schedule.
# "Seesaw Loss for Long-Tailed Instance Segmentation" (CVPR 2021, arXiv:2008.10032).
_base_ = './cascade_baseline_r18_minilvis.py'

model = dict(
    roi_head=dict(
        bbox_head=[
            dict(head,
                 # 'tempearture' is mmdet's own spelling of NormedLinear's argument
                 cls_predictor_cfg=dict(type='NormedLinear', tempearture=20),
                 loss_cls=dict(type='SeesawLoss', p=0.8, q=2.0, num_classes=_base_.num_classes,
                               loss_weight=1.0))
            for head in _base_.model.roi_head.bbox_head
        ],
        mask_head=dict(predictor_cfg=dict(type='NormedConv2d', tempearture=20))))
