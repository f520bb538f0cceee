"""Every way an option reaches the classifier refuses NaN, inf, out-of-range values, non-bools."""
import pytest
import torch
from mmengine.config import Config

from mmdet.registry import MODELS

from mmdet_tde.models.layers import CausalNormClassifier
from mmdet_tde.models.layers.options import check_option
from mmdet_tde.engine import set_tde_inference

NAN, INF = float('nan'), float('inf')
C = 5


@pytest.mark.parametrize('field, value', [
    ('tau', INF), ('tau', NAN), ('tau', -INF), ('gamma', INF), ('gamma', NAN),
    ('alpha', INF), ('alpha', NAN), ('alpha', -1.0), ('momentum', NAN), ('momentum', INF),
])
def test_classifier_refuses_non_finite_values_naming_the_field(field, value):
    with pytest.raises(ValueError, match=rf'^{field} must be a finite number'):
        CausalNormClassifier(16, 5, **{field: value})


@pytest.mark.parametrize('field, value', [('tau', True), ('alpha', '1.5'), ('gamma', None)])
def test_classifier_refuses_non_numbers(field, value):
    with pytest.raises(TypeError, match=rf'^{field} must be a finite number'):
        CausalNormClassifier(16, 5, **{field: value})


def test_num_heads_and_sizes_must_be_integers():
    for kwargs in (dict(num_heads=True), dict(num_heads=2.0), dict(in_features=16.0)):
        with pytest.raises(ValueError, match='must be a positive integer'):
            CausalNormClassifier(**dict(dict(in_features=16, num_classes=5), **kwargs))


def _box_head(**predictor):
    return MODELS.build(dict(type='TDEShared2FCBBoxHead', num_classes=C, in_channels=4,
                             roi_feat_size=2, fc_out_channels=8,
                             cls_predictor_cfg=dict(type='CausalNormPredictor', **predictor)))


@pytest.mark.parametrize('field, value', [('tau', INF), ('gamma', INF), ('alpha', NAN),
                                          ('momentum', NAN)])
def test_predictor_config_refuses_non_finite_values(field, value):
    with pytest.raises(ValueError, match=f'{field} must be a finite number'):
        _box_head(**{field: value})


@pytest.mark.parametrize('field', ['use_tde', 'background_exempted'])
@pytest.mark.parametrize('value', ['off', 0, 1, None])
def test_bool_options_must_be_bools(field, value):
    with pytest.raises(TypeError, match=f'{field} must be a bool'):
        _box_head(**{field: value})
    assert getattr(_box_head(**{field: False}).fc_cls, field) is False


def test_inference_refuses_non_finite_alpha():
    layer = CausalNormClassifier(8, 3)
    with torch.no_grad():
        layer.head_direction.fill_(1.0)
    for alpha in (INF, NAN, -1.0):
        with pytest.raises(ValueError, match='alpha must be a finite number >= 0'):
            layer.tde(torch.randn(2, 8), alpha=alpha)
    layer.alpha = NAN  # set after construction: still refused when used
    with pytest.raises(ValueError, match='alpha must be'):
        layer.tde(torch.randn(2, 8))


def test_set_tde_inference_uses_the_same_checks(repo_root):
    cfg = Config.fromfile(str(repo_root / 'configs/lvis/cascade_tde_r101.py'))
    for kwargs, error in [(dict(alpha=INF), ValueError), (dict(alpha=NAN), ValueError),
                          (dict(use_tde='off'), TypeError),
                          (dict(background_exempted=1), TypeError)]:
        with pytest.raises(error, match=f'^{next(iter(kwargs))} must'):
            set_tde_inference(cfg, **kwargs)
    assert check_option('alpha', 0) == 0.0 and isinstance(check_option('alpha', 2), float)
