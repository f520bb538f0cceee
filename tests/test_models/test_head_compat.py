"""What the TDE box heads accept at build time, and where their head direction is trained."""
import numpy as np
import pytest
import torch
from mmengine.hub import get_config

from mmdet.registry import MODELS

from helpers.models import build_model, make_batch, small_backbone, stock_cascade_cfg
from mmdet_tde.models import CausalNormPredictor

C = 5


def _head(**kwargs):
    cfg = dict(type='TDEShared2FCBBoxHead', num_classes=C, in_channels=4, roi_feat_size=2,
               fc_out_channels=8)
    cfg.update(kwargs)
    return MODELS.build(cfg)


@pytest.mark.parametrize('loss_cls, reason', [
    (dict(type='SeesawLoss', num_classes=C), 'own classifier channels or activation'),
    (dict(type='EQLV2Loss', num_classes=C), 'use_sigmoid=True'),
    (dict(type='CrossEntropyLoss', use_sigmoid=True), 'use_sigmoid=True'),
])
def test_incompatible_classification_losses_are_refused(loss_cls, reason):
    if loss_cls['type'] not in MODELS:
        pytest.skip(f"this mmdet has no {loss_cls['type']}")
    with pytest.raises(ValueError, match=reason) as err:
        _head(loss_cls=loss_cls)
    assert loss_cls['type'] in str(err.value) and 'softmax' in str(err.value)


@pytest.mark.parametrize('num_heads', [256, 512, 1024])
def test_num_heads_is_checked_against_the_classifier_input(num_heads):
    # The RoI feature (128 x 7 x 7 = 6272) is not what the classifier sees: fc_out_channels is.
    head = _head(in_channels=128, roi_feat_size=7, fc_out_channels=1024,
                 cls_predictor_cfg=dict(type='CausalNormPredictor', num_heads=num_heads))
    assert head.fc_cls.in_features == 1024 and head.fc_cls.num_heads == num_heads
    assert head.cls_predictor_cfg['num_heads'] == num_heads


def test_num_heads_error_names_the_classifier_input():
    with pytest.raises(ValueError, match=r'in_features \(the classifier input dimension, 1000\)'
                       r' must be a multiple of num_heads=3') as err:
        _head(in_channels=128, roi_feat_size=7, fc_out_channels=1000,
              cls_predictor_cfg=dict(type='CausalNormPredictor', num_heads=3))
    assert 'TDEShared2FCBBoxHead' in str(err.value) and '6272' not in str(err.value)


def test_eval_mode_loss_neither_updates_nor_fails():
    torch.manual_seed(0)
    model = build_model(stock_cascade_cfg(num_classes=C))
    model.train()
    data = model.data_preprocessor(make_batch(seed=0), True)
    model.loss(data['inputs'], data['data_samples'])
    directions = [h.fc_cls.head_direction.clone() for h in model.roi_head.bbox_head]
    assert all(d.abs().sum() > 0 for d in directions)
    model.eval()  # as a validation-loss hook computes it
    with torch.no_grad():
        losses = model.loss(data['inputs'], data['data_samples'])
    assert all(torch.isfinite(torch.as_tensor(v)).all() for k, v in losses.items()
               if 'loss' in k)
    for head, before in zip(model.roi_head.bbox_head, directions):
        assert torch.equal(head.fc_cls.head_direction, before)


def test_pisa_roi_head_trains_the_direction():
    """PISARoIHead calls the box head's ``loss`` directly, not ``loss_and_target``.

    Its ScoreHLRSampler also calls ``loss`` (without RoIs) to score negatives: not an update.
    """
    cfg = get_config('mmdet::pisa/faster-rcnn_r50_fpn_pisa_1x_coco.py')
    model_cfg = small_backbone(cfg.model)
    model_cfg.roi_head.bbox_head.num_classes = C
    model_cfg.roi_head.bbox_head.type = 'TDEShared2FCBBoxHead'
    torch.manual_seed(0)
    model = build_model(model_cfg)
    model.train()
    head = model.roi_head.bbox_head
    assert isinstance(head.fc_cls, CausalNormPredictor)
    features, labels = [], []
    head.fc_cls.register_forward_hook(lambda m, args, out: features.append(args[0].detach()))
    original = head.get_targets

    def get_targets(*args, **kwargs):
        targets = original(*args, **kwargs)
        labels.append(targets[0].clone())
        return targets

    head.get_targets = get_targets
    data = model.data_preprocessor(make_batch(seed=0), True)
    model.loss(data['inputs'], data['data_samples'])
    assert len(labels) == 1 and len(features) > 1  # the sampler's forwards came first
    foreground = (labels[0] >= 0) & (labels[0] < C)
    assert foreground.any()
    # The last classifier forward is the one whose targets the loss received.
    expected = features[-1][foreground].double().mean(0).numpy()
    np.testing.assert_allclose(head.fc_cls.head_direction.double().numpy(), expected,
                               rtol=1e-5, atol=1e-7)
