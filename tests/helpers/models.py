"""Small real mmdet models and inputs for the head tests."""
import torch
from mmengine.hub import get_config
from mmengine.structures import InstanceData

from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmdet.structures.mask import BitmapMasks


def small_backbone(cfg_model):
    """Shrink a config's backbone to ResNet-18 without pretrained weights (FPN follows)."""
    cfg_model.backbone = dict(type='ResNet', depth=18, num_stages=4, out_indices=(0, 1, 2, 3),
                              frozen_stages=-1, norm_cfg=dict(type='BN', requires_grad=True),
                              norm_eval=False, style='pytorch', init_cfg=None)
    cfg_model.neck.in_channels = [64, 128, 256, 512]
    return cfg_model


def build_model(cfg_model):
    model = MODELS.build(cfg_model)
    model.init_weights()
    return model


def stock_cascade_cfg(num_classes=5, tde=True):
    """mmdet's own Cascade Mask R-CNN config with only the box heads' type (and classes) changed."""
    cfg = get_config('mmdet::cascade_rcnn/cascade-mask-rcnn_r50_fpn_1x_coco.py')
    model = small_backbone(cfg.model)
    for head in model.roi_head.bbox_head:
        head.num_classes = num_classes
        if tde:
            head.type = 'TDEShared2FCBBoxHead'
    model.roi_head.mask_head.num_classes = num_classes
    return model


def stock_htc_cfg(num_classes=5, tde=True):
    """mmdet's HTC without the semantic branch, box heads' type (and classes) changed; fewer
    proposals and RoIs, as HTC runs a mask head per stage on them."""
    cfg = get_config('mmdet::htc/htc-without-semantic_r50_fpn_1x_coco.py')
    model = small_backbone(cfg.model)
    model.train_cfg.rpn_proposal.max_per_img = 300
    for stage in model.train_cfg.rcnn:
        stage.sampler.num = 128
    model.test_cfg.rpn.max_per_img = 100
    model.test_cfg.rcnn.max_per_img = 30
    for head in model.roi_head.bbox_head + model.roi_head.mask_head:
        head.num_classes = num_classes
    if tde:
        for head in model.roi_head.bbox_head:
            head.type = 'TDEShared2FCBBoxHead'
    return model


def stock_mask_rcnn_cfg(num_classes=5, tde=True):
    cfg = get_config('mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py')
    model = small_backbone(cfg.model)
    model.roi_head.bbox_head.num_classes = num_classes
    model.roi_head.mask_head.num_classes = num_classes
    if tde:
        model.roi_head.bbox_head.type = 'TDEShared2FCBBoxHead'
    return model


def make_batch(num_images=2, size=96, labels=((0, 1, 3), (4, 0)), seed=0):
    """Random images with random boxes and box-shaped masks, as mmdet's data_preprocessor wants."""
    g = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    for i in range(num_images):
        inputs.append(torch.randint(0, 255, (3, size, size), generator=g, dtype=torch.uint8))
        n = len(labels[i])
        xy = torch.rand(n, 2, generator=g) * size * 0.5
        wh = torch.rand(n, 2, generator=g) * size * 0.4 + size * 0.1
        boxes = torch.cat([xy, (xy + wh).clamp(max=size - 1)], dim=1)
        masks = torch.zeros(n, size, size, dtype=torch.uint8)
        for j, (x1, y1, x2, y2) in enumerate(boxes.int().tolist()):
            masks[j, y1:y2, x1:x2] = 1
        sample = DetDataSample(metainfo=dict(img_shape=(size, size), ori_shape=(size, size),
                                             pad_shape=(size, size), scale_factor=(1.0, 1.0),
                                             batch_input_shape=(size, size), img_id=i))
        sample.gt_instances = InstanceData(bboxes=boxes, labels=torch.tensor(labels[i]),
                                           masks=BitmapMasks(masks.numpy(), size, size))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)
