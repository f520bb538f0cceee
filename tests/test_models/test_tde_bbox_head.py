"""TDE box heads inside mmdet's stock StandardRoIHead and CascadeRoIHead, on real small models."""
import numpy as np
import pytest
import torch
from mmengine.config import Config

from mmdet.registry import MODELS

from helpers.models import (build_model, make_batch, stock_cascade_cfg, stock_htc_cfg,
                            stock_mask_rcnn_cfg)
from helpers.reference import ref_bg_exempted, ref_logits, ref_tde, softmax
from mmdet_tde.models import CausalNormPredictor
from mmdet_tde.engine import set_tde_inference

C = 5


class Recorder:
    """Records each box head's classifier inputs and training targets."""

    def __init__(self, heads):
        self.features = {i: [] for i in range(len(heads))}
        self.labels = {i: [] for i in range(len(heads))}
        for i, head in enumerate(heads):
            head.fc_cls.register_forward_hook(
                lambda m, args, out, i=i: self.features[i].append(args[0].detach().double()))
            original = head.get_targets

            def get_targets(*args, i=i, original=original, **kwargs):
                targets = original(*args, **kwargs)
                self.labels[i].append(targets[0].clone())
                return targets

            head.get_targets = get_targets


def heads_of(model):
    heads = model.roi_head.bbox_head
    return list(heads) if isinstance(heads, torch.nn.ModuleList) else [heads]


def train_step(model, seed):
    data = model.data_preprocessor(make_batch(seed=seed), True)
    losses = model.loss(data['inputs'], data['data_samples'])
    total, log_vars = model.parse_losses(losses)
    total.backward()
    return log_vars


@pytest.mark.parametrize('cfg_fn', [stock_cascade_cfg, stock_mask_rcnn_cfg, stock_htc_cfg])
def test_head_direction_is_ema_of_foreground_means(cfg_fn):
    torch.manual_seed(0)
    model = build_model(cfg_fn(num_classes=C))
    model.train()
    heads = heads_of(model)
    assert all(isinstance(h.fc_cls, CausalNormPredictor) for h in heads)
    rec = Recorder(heads)
    expected = [np.zeros(h.fc_cls.in_features) for h in heads]
    for step in range(2):
        losses = train_step(model, seed=step)
        assert all(np.isfinite(float(v)) for v in losses.values())
        for i, head in enumerate(heads):
            x, labels = rec.features[i][step], rec.labels[i][step]
            fg = (labels >= 0) & (labels < C)
            # The sampled RoIs hold class 0 and the background (label C): flaw 1 would mix them up.
            assert (labels[fg] == 0).any() and (labels == C).any()
            expected[i] = 0.9 * expected[i] + x[fg].numpy().mean(0)
            np.testing.assert_allclose(head.fc_cls.head_direction.double().numpy(), expected[i],
                                       rtol=1e-5, atol=1e-7)


def test_batch_without_foreground_keeps_direction():
    head = MODELS.build(dict(type='TDEShared2FCBBoxHead', num_classes=C, in_channels=4,
                             roi_feat_size=2, fc_out_channels=8))
    head.train()
    with torch.no_grad():
        head.fc_cls.head_direction.fill_(0.5)
    head(torch.randn(6, 4, 2, 2))
    head.fc_cls.update_head_direction_from_targets(torch.full((6, ), C))
    assert torch.equal(head.fc_cls.head_direction, torch.full((8, ), 0.5))


def _predicted_scores(model, seed=5):
    """Classifier inputs of every stage and the cls_scores mmdet's post-processing receives."""
    heads = heads_of(model)
    rec = Recorder(heads)
    received = []
    last = heads[-1]
    original = last.predict_by_feat

    def predict_by_feat(*args, **kwargs):
        received.append(torch.cat(kwargs['cls_scores']).double())
        return original(*args, **kwargs)

    last.predict_by_feat = predict_by_feat
    model.eval()
    with torch.no_grad():
        data = model.data_preprocessor(make_batch(seed=seed), False)
        results = model.predict(data['inputs'], data['data_samples'])
    return rec, received[0], results


def _stage_reference(head, x, mode):
    p = head.fc_cls
    w = p.weight.detach().double().numpy()
    z = ref_logits(x.numpy(), w, p.num_heads, p.tau, p.gamma, p.norm)
    if mode == 'deconfound':
        return softmax(z)
    t = ref_tde(x.numpy(), w, p.head_direction.double().numpy(), p.num_heads, p.tau, p.gamma,
                p.alpha, p.norm)
    return softmax(t) if mode == 'tde' else ref_bg_exempted(z, t)


@pytest.mark.parametrize('mode', ['bg_exempted', 'tde', 'deconfound'])
def test_standard_roi_head_scores_equal_eq9(mode):
    torch.manual_seed(0)
    model = build_model(stock_mask_rcnn_cfg(num_classes=C))
    model.train()
    train_step(model, seed=0)
    head = model.roi_head.bbox_head
    head.fc_cls.alpha = 1.3
    head.fc_cls.use_tde = mode != 'deconfound'
    head.fc_cls.background_exempted = mode == 'bg_exempted'
    rec, received, results = _predicted_scores(model)
    probs = torch.softmax(received, dim=-1).numpy()  # what mmdet's predict_by_feat computes
    np.testing.assert_allclose(probs, _stage_reference(head, rec.features[0][0], mode), atol=2e-6)
    assert all(torch.isfinite(r.pred_instances.scores).all() for r in results)


# HTC (without the semantic branch) scores its boxes through Cascade R-CNN's code
@pytest.mark.parametrize('cfg_fn', [stock_cascade_cfg, stock_htc_cfg])
def test_cascade_scores_are_normalised_geometric_mean_of_stage_eq9(cfg_fn):
    torch.manual_seed(0)
    model = build_model(cfg_fn(num_classes=C))
    model.train()
    train_step(model, seed=0)
    heads = heads_of(model)
    rec, received, _ = _predicted_scores(model)
    stage_probs = [_stage_reference(h, rec.features[i][0], 'bg_exempted')
                   for i, h in enumerate(heads)]
    geo = np.exp(np.mean([np.log(p) for p in stage_probs], axis=0))
    geo /= geo.sum(1, keepdims=True)
    np.testing.assert_allclose(torch.softmax(received, dim=-1).numpy(), geo, atol=2e-6)


def test_stock_checkpoint_loads_with_warning_and_predicts_without_tde():
    torch.manual_seed(0)
    stock = build_model(stock_cascade_cfg(num_classes=C, tde=False))
    tde_model = build_model(stock_cascade_cfg(num_classes=C))
    with pytest.warns(UserWarning, match='no "roi_head.bbox_head.0.fc_cls.head_direction"'):
        tde_model.load_state_dict(stock.state_dict(), strict=False)
    heads = heads_of(tde_model)
    for stock_head, head in zip(heads_of(stock), heads):
        assert torch.equal(stock_head.fc_cls.weight, head.fc_cls.weight)
        assert not head.fc_cls.has_head_direction
    rec, received, results = _predicted_scores(tde_model)
    assert torch.isfinite(received).all()
    assert all(torch.isfinite(r.pred_instances.scores).all() for r in results)
    stage_probs = [_stage_reference(h, rec.features[i][0], 'deconfound')
                   for i, h in enumerate(heads)]
    geo = np.exp(np.mean([np.log(p) for p in stage_probs], axis=0))
    np.testing.assert_allclose(torch.softmax(received, -1).numpy(), geo / geo.sum(1, keepdims=True),
                               atol=2e-6)


def test_classifier_keeps_its_own_init():
    head = MODELS.build(dict(type='TDEShared2FCBBoxHead', num_classes=C, in_channels=4,
                             roi_feat_size=2, fc_out_channels=64))
    head.init_weights()
    bound = 1 / np.sqrt(64)
    w = head.fc_cls.weight.detach()
    assert w.abs().max() <= bound and w.std() > 0.5 * bound / np.sqrt(3)


def test_wrong_predictor_type_is_rejected():
    with pytest.raises(TypeError, match="cls_predictor_cfg.type='CausalNormPredictor'"):
        MODELS.build(dict(type='TDEShared2FCBBoxHead', num_classes=C,
                          cls_predictor_cfg=dict(type='Linear')))


@pytest.mark.parametrize('head_type', ['ConvFCBBoxHead', 'Shared4Conv1FCBBoxHead'])
def test_other_head_types_score_stock_features_by_eq7_and_eq9(head_type):
    """Against mmdet's own head of the same type and weights: its features through Eq. (7) in
    training and Eq. (9) at inference (float64 references), the same box regression."""
    extra = dict(num_shared_fcs=1, num_cls_fcs=1) if head_type == 'ConvFCBBoxHead' else {}
    cfg = dict(type=head_type, num_classes=C, in_channels=8, roi_feat_size=4, fc_out_channels=64,
               conv_out_channels=8, **extra)
    torch.manual_seed(0)
    stock = MODELS.build(cfg)
    head = MODELS.build(dict(cfg, type='TDE' + head_type, cls_predictor_cfg=dict(
        type='CausalNormPredictor', num_heads=4, alpha=0.5)))
    stock_params = dict(stock.named_parameters())
    with torch.no_grad():
        for name, param in head.named_parameters():
            if not name.startswith('fc_cls.'):
                param.copy_(stock_params[name])
        head.fc_cls.head_direction.copy_(torch.rand(64) + 0.1)
    features = []
    stock.fc_cls.register_forward_hook(lambda m, args, out: features.append(args[0].double()))
    x = torch.randn(3, 8, 4, 4)
    with torch.no_grad():
        _, stock_boxes = stock(x)
        head.train()
        logits, boxes = head(x)
        head.eval()
        scores, _ = head(x)
    p = head.fc_cls
    w, d = p.weight.detach().double().numpy(), p.head_direction.double().numpy()
    z = ref_logits(features[0].numpy(), w, 4, p.tau, p.gamma)
    np.testing.assert_allclose(logits.double().numpy(), z, rtol=1e-5, atol=1e-5)
    expected = ref_bg_exempted(z, ref_tde(features[0].numpy(), w, d, 4, p.tau, p.gamma, 0.5))
    np.testing.assert_allclose(torch.softmax(scores.double(), -1).numpy(), expected, atol=2e-6)
    assert torch.equal(boxes, stock_boxes)


def test_set_tde_inference_on_shipped_config(repo_root):
    cfg = Config.fromfile(str(repo_root / 'configs/lvis/cascade_tde_r101.py'))
    assert set_tde_inference(cfg, alpha=2.5, background_exempted=False) == 3
    for head in cfg.model.roi_head.bbox_head:
        assert head.cls_predictor_cfg.alpha == 2.5
        assert head.cls_predictor_cfg.background_exempted is False
        assert head.cls_predictor_cfg.use_tde is True
    with pytest.raises(ValueError, match='alpha must be a finite number >= 0'):
        set_tde_inference(cfg, alpha=-1)
    baseline = Config.fromfile(str(repo_root / 'configs/lvis/cascade_baseline_r101.py'))
    with pytest.raises(ValueError, match='no TDE box head'):
        set_tde_inference(baseline, alpha=1.0)


def test_deconfound_mask_predictor_in_stock_mask_head():
    torch.manual_seed(0)
    cfg = stock_mask_rcnn_cfg(num_classes=C)
    cfg.roi_head.mask_head.predictor_cfg = dict(type='DeconfoundConv2d', num_heads=2, tau=16.0)
    model = build_model(cfg)
    assert type(model.roi_head.mask_head.conv_logits).__name__ == 'DeconfoundConv2d'
    model.train()
    losses = train_step(model, seed=0)
    assert np.isfinite(float(losses['loss_mask']))
    assert model.roi_head.mask_head.conv_logits.weight.grad.abs().sum() > 0
