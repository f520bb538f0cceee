"""TDE box heads in mmdet configs: changing the inference settings of a config's TDE heads
without retraining (``tools/test.py``), and refusing a checkpoint that never trained them."""
import inspect
from typing import Optional

from mmengine.config import Config

from mmdet_tde.models.layers import CausalNormClassifier
from mmdet_tde.models.layers.options import check_option
from mmdet_tde.models.roi_heads.bbox_heads import LOGIT_ADJUSTED_HEAD_OF, CausalNormPredictor

# mmdet's ConvFC box heads and their TDE drop-in replacements.
TDE_HEAD_OF = dict(ConvFCBBoxHead='TDEConvFCBBoxHead', Shared2FCBBoxHead='TDEShared2FCBBoxHead',
                   Shared4Conv1FCBBoxHead='TDEShared4Conv1FCBBoxHead')
TDE_HEAD_TYPES = tuple(TDE_HEAD_OF.values())
# set_tde_inference also sets their logit-adjusted twins, which must infer without TDE.
_INFERENCE_HEAD_TYPES = TDE_HEAD_TYPES + tuple(LOGIT_ADJUSTED_HEAD_OF[t] for t in TDE_HEAD_TYPES)


def default_predictor_cfg() -> dict:
    """``CausalNormPredictor`` with every hyper-parameter at its default (the paper's LVIS values).

    Read from the signatures, their one home, and written out so that a config records them.
    """
    defaults = {}
    for cls in reversed(CausalNormPredictor.__mro__):
        if issubclass(cls, CausalNormClassifier) and '__init__' in vars(cls):
            defaults.update((name, p.default)
                            for name, p in inspect.signature(cls.__init__).parameters.items()
                            if p.default is not p.empty)
    return dict(type=CausalNormPredictor.__name__, **defaults)


def _tde_heads(node):
    if isinstance(node, dict):
        if node.get('type') in _INFERENCE_HEAD_TYPES:
            yield node
        for value in node.values():
            yield from _tde_heads(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from _tde_heads(value)


def has_tde_heads(cfg: Config) -> bool:
    """Whether ``cfg.model`` has a TDE box head (a logit-adjusted one included)."""
    return next(_tde_heads(cfg.model), None) is not None


def set_tde_inference(cfg: Config, alpha: Optional[float] = None, use_tde: Optional[bool] = None,
                      background_exempted: Optional[bool] = None) -> int:
    """Set alpha / TDE on-off / background exemption in all TDE box heads of ``cfg.model``.

    Returns the number of heads changed; raises if the model has none, so that a flag given to a
    baseline config is not silently ignored.
    """
    updates = dict(alpha=alpha, use_tde=use_tde, background_exempted=background_exempted)
    updates = {k: check_option(k, v) for k, v in updates.items() if v is not None}
    heads = list(_tde_heads(cfg.model))
    if not heads:
        raise ValueError(f'the config has no TDE box head (types {TDE_HEAD_TYPES}): '
                         'TDE options do not apply')
    for head in heads:
        if 'cls_predictor_cfg' not in head:
            head['cls_predictor_cfg'] = default_predictor_cfg()
        head['cls_predictor_cfg'].update(updates)
    return len(heads)


def check_head_directions(model, checkpoint: str) -> None:
    """Refuse to test a model whose TDE classifiers the checkpoint left without a head
    direction: a checkpoint of another config (a baseline's leaves the classifier untrained
    too, and mmengine only logs the missing keys) or one that never trained it."""
    problems = [f'{name}: {module.head_direction_problem()}'
                for name, module in model.named_modules()
                if isinstance(module, CausalNormClassifier) and not module.has_head_direction]
    if problems:
        raise ValueError(f'checkpoint {checkpoint} has no head direction for {len(problems)} TDE '
                         f'classifier(s) of the config ({problems[0]}): it is not a TDE checkpoint '
                         'of this config. Test it with the config it was trained with, or pass '
                         '--allow-missing-head-direction to test it anyway')
