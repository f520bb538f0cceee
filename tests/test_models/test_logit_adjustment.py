"""Post-hoc logit adjustment: the torch function against a float64 re-derivation, and the box
heads that apply it at test time to checkpoints of mmdet's own heads."""
import json

import numpy as np
import pytest
import torch

from mmdet.registry import MODELS

from helpers.reference import ref_logit_adjustment, softmax
from mmdet_tde.models.layers import (log_class_prior, logit_adjusted_scores,
                                     posthoc_logit_adjustment)

C = 5
COUNTS = [2000, 300, 40, 5, 1]
NAN, INF = float('nan'), float('inf')


def _logits(n=64, dtype=torch.float64, scale=3.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, C + 1, generator=g, dtype=torch.float64) * scale).to(dtype)


@pytest.mark.parametrize('exempted', [True, False])
@pytest.mark.parametrize('tau', [0.5, 1.0, 2.5])
def test_probabilities_equal_the_float64_reference(exempted, tau):
    z = _logits()
    want = ref_logit_adjustment(z.numpy(), COUNTS, tau, exempted)
    np.testing.assert_allclose(posthoc_logit_adjustment(z, COUNTS, tau, exempted).numpy(), want,
                               rtol=1e-12, atol=1e-15)
    got32 = posthoc_logit_adjustment(z.float(), COUNTS, tau, exempted)
    assert got32.dtype == torch.float32
    np.testing.assert_allclose(got32.double().numpy(),
                               ref_logit_adjustment(z.float().double().numpy(), COUNTS, tau,
                                                    exempted), rtol=0, atol=1e-6)
    # the adjustment moves probability mass to the rare classes, not a rounding error
    assert np.abs(want - softmax(z.numpy())).max() > 0.05


@pytest.mark.parametrize('exempted', [True, False])
def test_rows_sum_to_one_and_the_exempted_background_keeps_its_probability(exempted):
    z = _logits(scale=8.0)
    p = posthoc_logit_adjustment(z, COUNTS, 1.5, exempted)
    torch.testing.assert_close(p.sum(dim=1), torch.ones(len(z), dtype=z.dtype), rtol=0,
                               atol=1e-12)
    p_bg = z.softmax(dim=1)[:, -1]
    if exempted:
        torch.testing.assert_close(p[:, -1], p_bg, rtol=1e-12, atol=1e-15)
    else:  # the background gains what the frequent classes lose
        assert (p[:, -1] - p_bg).abs().max() > 1e-3


@pytest.mark.parametrize('exempted', [True, False])
@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
def test_tau_zero_is_softmax_exactly(exempted, dtype):
    z = _logits(dtype=dtype)
    assert torch.equal(posthoc_logit_adjustment(z, COUNTS, 0.0, exempted), z.softmax(dim=1))
    assert torch.equal(logit_adjusted_scores(z, log_class_prior(COUNTS), 0, exempted), z)


@pytest.mark.parametrize('exempted', [True, False])
def test_scores_for_a_softmax_give_the_probabilities(exempted):
    z = _logits(dtype=torch.float32)
    scores = logit_adjusted_scores(z, log_class_prior(COUNTS), 1.0, exempted)
    torch.testing.assert_close(scores.softmax(dim=1),
                               posthoc_logit_adjustment(z, COUNTS, 1.0, exempted),
                               rtol=0, atol=1e-7)


@pytest.mark.parametrize('exempted', [True, False])
def test_fp16_is_computed_in_float32(exempted):
    # Around 1000 an fp16 step is 0.5: computed in fp16, the offsets tau * log(pi) (0.4 to 8)
    # would be rounded to the nearest half.
    z = torch.full((4, C + 1), 1000.0) + torch.tensor([0.0, 0.5, 1.0, 1.5, 2.0, 3.0])
    z = z.half()
    got = posthoc_logit_adjustment(z, COUNTS, 1.0, exempted)
    assert got.dtype == torch.float16
    want = ref_logit_adjustment(z.double().numpy(), COUNTS, 1.0, exempted)
    np.testing.assert_allclose(got.double().numpy(), want, rtol=0, atol=1e-3)
    assert logit_adjusted_scores(z, log_class_prior(COUNTS), 1.0, exempted).dtype == torch.float16


@pytest.mark.parametrize('counts, message', [
    ([5, 4, 0, 2, 1], r'class_counts must be finite numbers > 0 .*class 2: 0'),
    ([5, 4, -3, 2, 1], r'class_counts must be finite numbers > 0 .*class 2: -3'),
    ([5, NAN, 3, INF, 1], r'2 are not \(class 1: nan, class 3: inf\)'),
    ([5, 4, 3, 2], 'class_counts has 4 entries but cls_score has 6 columns: expected columns - 1'),
    ([], 'non-empty 1-D'),
])
def test_bad_counts_are_refused(counts, message):
    with pytest.raises(ValueError, match=message):
        posthoc_logit_adjustment(_logits(), counts, 1.0)


def test_bad_types_and_taus_are_refused():
    z = _logits()
    for tau in (NAN, INF, -INF, -0.5):
        with pytest.raises(ValueError, match=r'^tau must be a finite number >= 0, got'):
            posthoc_logit_adjustment(z, COUNTS, tau)
    with pytest.raises(TypeError, match=r'^tau must be a finite number >= 0'):
        posthoc_logit_adjustment(z, COUNTS, '1')
    with pytest.raises(TypeError, match='background_exempted must be a bool'):
        posthoc_logit_adjustment(z, COUNTS, 1.0, background_exempted='off')
    with pytest.raises(TypeError, match='class_counts must hold numbers'):
        posthoc_logit_adjustment(z, [5, 4, True, 2, 1], 1.0)
    # counts as a tensor or numpy integers work as a list does
    torch.testing.assert_close(posthoc_logit_adjustment(z, torch.tensor(COUNTS), 1.0),
                               posthoc_logit_adjustment(z, np.array(COUNTS), 1.0))


# --- the box heads ---------------------------------------------------------------------------

def _head_cfg(head_type='Shared2FCBBoxHead', **kwargs):
    return dict(dict(type=head_type, num_classes=C, in_channels=4, roi_feat_size=2,
                     fc_out_channels=16), **kwargs)


def _adjusted_cfg(head_type='LogitAdjustedShared2FCBBoxHead', tau=1.0, exempted=True,
                  counts=COUNTS, **kwargs):
    return _head_cfg(head_type, logit_adjustment=dict(tau=tau, background_exempted=exempted,
                                                      class_counts=counts), **kwargs)


def _rois_and_features(n=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g) * 20
    boxes = torch.cat([xy, xy + 2 + torch.rand(n, 2, generator=g) * 10], dim=1)
    rois = torch.cat([torch.zeros(n, 1), boxes], dim=1)
    return rois, torch.randn(n, 4, 2, 2, generator=g)


def _scores(head, rois, feats):
    """The per-class scores predict_by_feat returns without NMS (rcnn_test_cfg=None)."""
    with torch.no_grad():
        cls_score, bbox_pred = head(feats)
        result = head.predict_by_feat(rois=(rois, ), cls_scores=(cls_score, ),
                                      bbox_preds=(bbox_pred, ),
                                      batch_img_metas=[dict(img_shape=(32, 32))])[0]
    return cls_score, result


@pytest.mark.parametrize('exempted', [True, False])
def test_stock_head_checkpoint_predicts_the_reference_scores(exempted):
    torch.manual_seed(0)
    stock = MODELS.build(_head_cfg()).eval()
    stock.init_weights()
    with torch.no_grad():  # logits of a trained size, not mmdet's std-0.01 initialisation
        stock.fc_cls.weight.normal_(std=0.5)
    adjusted = MODELS.build(_adjusted_cfg(tau=1.0, exempted=exempted)).eval()
    assert isinstance(adjusted, type(stock))
    # the stock head's state dict loads as it is: no missing or unexpected key
    assert set(adjusted.state_dict()) == set(stock.state_dict())
    adjusted.load_state_dict(stock.state_dict(), strict=True)

    rois, feats = _rois_and_features()
    cls_score, plain = _scores(stock, rois, feats)
    cls_score_la, result = _scores(adjusted, rois, feats)
    assert torch.equal(cls_score, cls_score_la)  # same network, only post-processing differs
    z = cls_score.double().numpy()
    np.testing.assert_allclose(plain.scores.numpy(), softmax(z), rtol=0, atol=1e-6)
    np.testing.assert_allclose(result.scores.numpy(),
                               ref_logit_adjustment(z, COUNTS, 1.0, exempted), rtol=0, atol=1e-6)
    assert (result.scores - plain.scores).abs().max() > 0.05
    assert torch.equal(result.bboxes, plain.bboxes)


def test_predict_adjusted_at_another_tau_and_at_zero():
    torch.manual_seed(0)
    head = MODELS.build(_adjusted_cfg(tau=1.0)).eval()
    rois, feats = _rois_and_features()
    with torch.no_grad():
        cls_score, bbox_pred = head(feats)
        args = dict(rois=(rois, ), cls_scores=(cls_score, ), bbox_preds=(bbox_pred, ),
                    batch_img_metas=[dict(img_shape=(32, 32))])
        at_2 = head.predict_adjusted(2.0, **args)[0].scores
        at_0 = head.predict_adjusted(0.0, **args)[0].scores
    z = cls_score.double().numpy()
    np.testing.assert_allclose(at_2.numpy(), ref_logit_adjustment(z, COUNTS, 2.0, True),
                               rtol=0, atol=1e-6)
    assert torch.equal(at_0, cls_score.softmax(dim=1))


def test_tde_head_adjusts_its_deconfounded_logits_and_refuses_tde():
    with pytest.raises(ValueError, match=r'use_tde=True.*--tde off'):
        MODELS.build(_adjusted_cfg('LogitAdjustedTDEShared2FCBBoxHead'))
    predictor = dict(type='CausalNormPredictor', use_tde=False)
    torch.manual_seed(0)
    tde = MODELS.build(_head_cfg('TDEShared2FCBBoxHead', cls_predictor_cfg=predictor)).eval()
    with torch.no_grad():
        tde.fc_cls.head_direction.normal_()
    adjusted = MODELS.build(_adjusted_cfg('LogitAdjustedTDEShared2FCBBoxHead', exempted=False,
                                          cls_predictor_cfg=predictor)).eval()
    adjusted.load_state_dict(tde.state_dict(), strict=True)  # head_direction included
    rois, feats = _rois_and_features()
    cls_score, result = _scores(adjusted, rois, feats)
    with torch.no_grad():
        x = feats.flatten(1)
        for fc in adjusted.shared_fcs:
            x = adjusted.relu(fc(x))
        deconfounded = adjusted.fc_cls.deconfounded_logits(x)
    assert torch.equal(cls_score, deconfounded)
    np.testing.assert_allclose(
        result.scores.numpy(), ref_logit_adjustment(deconfounded.double().numpy(), COUNTS, 1.0,
                                                    False), rtol=0, atol=1e-6)


@pytest.mark.parametrize('kwargs, error, message', [
    (dict(loss_cls=dict(type='SeesawLoss', num_classes=C)), ValueError,
     'own classifier channels or activation'),
    (dict(loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=True)), ValueError,
     'use_sigmoid=True'),
    (dict(counts=COUNTS[:-1]), ValueError, 'class_counts has 4 entries but the head has '
     'num_classes=5'),
    (dict(counts=[3, 2, 0, 1, 1]), ValueError, 'class_counts must be finite numbers > 0'),
    (dict(tau=NAN), ValueError, r'logit_adjustment.tau must be a finite number >= 0, got nan'),
    (dict(exempted='yes'), TypeError, 'background_exempted must be a bool'),
])
def test_head_refuses_what_it_cannot_adjust(kwargs, error, message):
    with pytest.raises(error, match=message):
        MODELS.build(_adjusted_cfg(**kwargs))


def test_head_refuses_unknown_or_missing_settings():
    cfg = _head_cfg('LogitAdjustedShared2FCBBoxHead',
                    logit_adjustment=dict(tau=1.0, class_counts=COUNTS, form='plain'))
    with pytest.raises(ValueError, match=r"takes \('tau', 'background_exempted', 'class_counts'"):
        MODELS.build(cfg)
    with pytest.raises(ValueError, match='class_counts required'):
        MODELS.build(_head_cfg('LogitAdjustedShared2FCBBoxHead', logit_adjustment=dict(tau=1.0)))


def test_head_reads_the_counts_from_an_lvis_file(tmp_path):
    ann_file = tmp_path / 'train.json'
    ann_file.write_text(json.dumps(dict(categories=[
        dict(id=i + 1, name=f'c{i}', instance_count=n) for i, n in enumerate(COUNTS)])))
    head = MODELS.build(_adjusted_cfg(counts=dict(ann_file=str(ann_file))))
    prior = np.array(COUNTS, np.float64) / sum(COUNTS)
    np.testing.assert_allclose(head.log_class_prior.numpy(), np.log(prior), rtol=1e-14)
    assert 'log_class_prior' not in head.state_dict()
