"""The one-pass alpha sweep on HTC (no semantic branch) gives what HTC's own predict gives."""
import torch

from helpers.models import build_model, make_batch, stock_htc_cfg
from mmdet_tde.engine import AlphaSweep

C = 5


class Recorder:
    """Stands in for an evaluator: keeps the predictions it is given."""

    def __init__(self, cfg):
        self.samples = []

    def process(self, data_samples, data_batch):
        self.samples.extend(data_samples)


def test_sweep_equals_htc_predict():
    torch.manual_seed(0)
    model = build_model(stock_htc_cfg(num_classes=C))
    model.train()
    data = model.data_preprocessor(make_batch(seed=0), True)
    model.loss(data['inputs'], data['data_samples'])  # one step gives the heads a direction
    model.eval()
    alphas = [0.0, 2.5]
    sweep = AlphaSweep(model, [None] * len(alphas), {}, alphas, build_evaluator=Recorder)
    sweep.process(make_batch(seed=3))
    for alpha, recorder in zip(alphas, sweep.evaluators):
        for head in model.roi_head.bbox_head:
            head.fc_cls.alpha = alpha
        with torch.no_grad():
            data = model.data_preprocessor(make_batch(seed=3), False)
            expected = model.predict(data['inputs'], data['data_samples'])
        assert len(recorder.samples) == len(expected) == 2
        for got, want in zip(recorder.samples, expected):
            got, want = got.pred_instances, want.pred_instances
            assert len(want) > 0 and torch.equal(got.labels, want.labels)
            torch.testing.assert_close(got.scores, want.scores)
            torch.testing.assert_close(got.bboxes, want.bboxes)
            # batch composition may move a mask logit by ~1e-7
            assert (got.masks != want.masks).sum() <= 1e-3 * want.masks.numel()
