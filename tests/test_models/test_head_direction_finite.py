"""A non-finite value never enters the head direction: from training features or a checkpoint."""
import numpy as np
import pytest
import torch
from mmengine.logging import MessageHub

from mmdet.registry import MODELS

from mmdet_tde.models.layers import CausalNormClassifier
from mmdet_tde.models.roi_heads.bbox_heads import causal_norm_predictor

C, D = 4, 8


@pytest.mark.parametrize('bad', [float('nan'), float('inf'), -float('inf')])
def test_non_finite_batch_is_skipped_and_counted(bad):
    layer = CausalNormClassifier(D, C + 1, num_heads=2, momentum=0.9).double()
    first, clean = torch.randn(5, D, dtype=torch.float64), torch.randn(3, D, dtype=torch.float64)
    assert layer.update_head_direction(first)
    after_first = layer.head_direction.clone()
    np.testing.assert_allclose(after_first.numpy(), first.numpy().mean(0), rtol=1e-12)
    poisoned = torch.randn(6, D, dtype=torch.float64)
    poisoned[2, 3] = bad
    assert layer.update_head_direction(poisoned) is False
    assert torch.equal(layer.head_direction, after_first) and layer.skipped_updates == 1
    assert layer.update_head_direction(clean)
    expected = 0.9 * after_first.numpy() + clean.numpy().mean(0)
    np.testing.assert_allclose(layer.head_direction.numpy(), expected, rtol=1e-12)
    assert layer.skipped_updates == 1


def test_update_that_would_overflow_the_buffer_is_skipped():
    layer = CausalNormClassifier(D, C + 1).half()
    assert layer.update_head_direction(torch.full((2, D), 6e4, dtype=torch.float16))
    before = layer.head_direction.clone()
    # 0.9 * 6e4 + 6e4 > 65504: the float16 buffer would hold inf.
    assert not layer.update_head_direction(torch.full((2, D), 6e4, dtype=torch.float16))
    assert torch.equal(layer.head_direction, before) and layer.skipped_updates == 1


def _predictor(logged, monkeypatch):
    monkeypatch.setattr(causal_norm_predictor, 'print_log',
                        lambda msg, **kwargs: logged.append(msg))
    return MODELS.build(dict(type='CausalNormPredictor', in_features=D, out_features=C + 1))


def test_predictor_logs_skips_and_counts_them_in_the_message_hub(monkeypatch):
    logged = []
    predictor = _predictor(logged, monkeypatch).train()
    hub = MessageHub.get_instance('test_head_direction_finite')
    monkeypatch.setattr(MessageHub, 'get_current_instance', classmethod(lambda cls: hub))
    labels = torch.tensor([0, 1, C, C])
    x = torch.randn(4, D)
    x[3, 0] = float('nan')  # a background RoI: not used by the update, not a reason to skip
    predictor(x)
    predictor.update_head_direction_from_targets(labels)
    assert predictor.skipped_updates == 0 and not logged
    np.testing.assert_allclose(predictor.head_direction.numpy(), x[:2].mean(0).numpy(), rtol=1e-6)
    for step in range(2):
        x = torch.randn(4, D)
        x[1, 5] = float('inf')
        predictor(x)
        predictor.update_head_direction_from_targets(labels)
    assert predictor.skipped_updates == 2 and len(logged) == 2
    assert 'non-finite foreground features' in logged[-1] and 'skipped 2' in logged[-1]
    assert hub.get_scalar(causal_norm_predictor.SKIPPED_UPDATES_KEY).current() == 2


@pytest.mark.parametrize('bad', [float('nan'), float('inf')])
def test_checkpoint_with_non_finite_direction_is_refused(bad):
    head = MODELS.build(dict(type='TDEShared2FCBBoxHead', num_classes=C, in_channels=4,
                             roi_feat_size=2, fc_out_channels=D))
    state = head.state_dict()
    state['fc_cls.head_direction'] = torch.ones(D)
    state['fc_cls.head_direction'][1] = bad
    with pytest.raises(ValueError, match='"fc_cls.head_direction" is not finite'):
        head.load_state_dict(state)
    state['fc_cls.head_direction'] = torch.ones(D)
    head.load_state_dict(state)
    assert head.fc_cls.has_head_direction


@pytest.mark.parametrize('value, text', [(0.0, 'head_direction is zero'),
                                         (float('nan'), 'head_direction is not finite'),
                                         (float('inf'), 'head_direction is not finite')])
def test_no_tde_message_says_zero_only_when_zero(value, text, monkeypatch):
    logged = []
    predictor = _predictor(logged, monkeypatch).eval()
    with torch.no_grad():
        predictor.head_direction.fill_(1.0)[D // 2:] = value  # the second head's direction
    x = torch.randn(3, D)
    scores = predictor(x)
    assert len(logged) == 1 and text in logged[0] and 'without TDE' in logged[0]
    assert torch.equal(scores, predictor.deconfounded_logits(x))
    with pytest.raises(RuntimeError, match=text):
        predictor.tde(x)
