"""The one-pass logit-adjustment sweep gives, at every tau, what a model built for that tau
predicts on its own."""
import copy

import pytest
import torch
from mmengine.config import Config

from mmdet.registry import MODELS

from helpers.models import build_model, make_batch, stock_cascade_cfg, stock_mask_rcnn_cfg
from mmdet_tde.engine import LogitAdjustmentSweep, set_logit_adjustment

C = 5
COUNTS = [3000, 400, 50, 6, 1]


class Recorder:
    """Stands in for an evaluator: keeps the predictions it is given."""

    def __init__(self, cfg):
        self.samples = []

    def process(self, data_samples, data_batch):
        self.samples.extend(data_samples)


def _adjusted_cfg(model_cfg, tau, exempted):
    cfg = Config(dict(model=copy.deepcopy(model_cfg)))
    set_logit_adjustment(cfg, tau, background_exempted=exempted, class_counts=COUNTS)
    return cfg.model


def _predict(model, seed=3):
    with torch.no_grad():
        data = model.data_preprocessor(make_batch(seed=seed), False)
        return model.predict(data['inputs'], data['data_samples'])


@pytest.mark.slow  # three full-size detectors, each built once per tau: minutes on 2 cores
@pytest.mark.parametrize('model_cfg, exempted, taus', [
    (stock_cascade_cfg(num_classes=C, tde=False), True, [0.0, 2.5]),
    # the de-confounded model: TDE heads, TDE off, their logits adjusted
    (stock_cascade_cfg(num_classes=C, tde=True), True, [0.0, 1.5]),
    # StandardRoIHead with class-specific box regression
    (stock_mask_rcnn_cfg(num_classes=C, tde=False), False, [0.0, 0.5, 2.0]),
])
def test_sweep_equals_one_model_per_tau(model_cfg, exempted, taus):
    torch.manual_seed(0)
    model = build_model(_adjusted_cfg(model_cfg, taus[0], exempted)).eval()
    sweep = LogitAdjustmentSweep(model, [None] * len(taus), {}, taus, build_evaluator=Recorder)
    sweep.process(make_batch(seed=3))
    rarest_score = []
    for tau, recorder in zip(taus, sweep.evaluators):
        # built for this tau alone, with the swept model's weights
        alone = MODELS.build(_adjusted_cfg(model_cfg, tau, exempted)).eval()
        alone.load_state_dict(model.state_dict(), strict=True)
        expected = _predict(alone)
        if tau == 0:  # no adjustment: the plain model's own predictions
            plain = MODELS.build(model_cfg).eval()
            plain.load_state_dict(model.state_dict(), strict=True)
            expected_plain = _predict(plain)
            for got, want in zip(expected, expected_plain):
                assert torch.equal(got.pred_instances.scores, want.pred_instances.scores)
        assert len(recorder.samples) == len(expected) == 2
        for got, want in zip(recorder.samples, expected):
            got, want = got.pred_instances, want.pred_instances
            assert len(want) > 0 and torch.equal(got.labels, want.labels)
            assert torch.equal(got.scores, want.scores)
            assert torch.equal(got.bboxes, want.bboxes)
            # batch composition may move a mask logit by ~1e-7
            assert (got.masks != want.masks).sum() <= 1e-3 * want.masks.numel()
        rarest_score.append(sum(s.pred_instances.scores[s.pred_instances.labels == C - 1].sum()
                                for s in recorder.samples))
    # the adjustment moved scores to the rarest class: the comparison above is not vacuous
    assert rarest_score[-1] > rarest_score[0] + 1


def test_sweep_needs_a_logit_adjusted_last_head():
    model = build_model(stock_mask_rcnn_cfg(num_classes=C, tde=False))
    with pytest.raises(ValueError, match=r'last box head \(Shared2FCBBoxHead\) is not '
                       'logit-adjusted'):
        LogitAdjustmentSweep(model, [None], {}, [1.0], build_evaluator=Recorder)
    model = build_model(_adjusted_cfg(stock_mask_rcnn_cfg(num_classes=C, tde=False), 1, True))
    with pytest.raises(ValueError, match='tau must be a finite number >= 0, got -1.0'):
        LogitAdjustmentSweep(model, [None, None], {}, [0.0, -1.0], build_evaluator=Recorder)
    with pytest.raises(ValueError, match='taus must not be empty'):
        LogitAdjustmentSweep(model, [], {}, [], build_evaluator=Recorder)
