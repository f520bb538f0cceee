"""Change TDE inference settings of every TDE box head in a config, without retraining."""
import argparse
import copy
from typing import Optional

from mmengine.config import Config

from mmdet_tde.models.layers.options import check_option
from mmdet_tde.models.roi_heads.bbox_heads.tde_convfc_bbox_head import DEFAULT_PREDICTOR

TDE_HEAD_TYPES = ('TDEConvFCBBoxHead', 'TDEShared2FCBBoxHead', 'TDEShared4Conv1FCBBoxHead')


def _tde_heads(node):
    if isinstance(node, dict):
        if node.get('type') in TDE_HEAD_TYPES:
            yield node
        for value in node.values():
            yield from _tde_heads(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from _tde_heads(value)


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
            head['cls_predictor_cfg'] = copy.deepcopy(DEFAULT_PREDICTOR)
        head['cls_predictor_cfg'].update(updates)
    return len(heads)


def alpha_arg(text: str) -> float:
    """argparse ``type=`` for alpha: a bad value is a usage error (exit 2), not a traceback."""
    try:
        return check_option('alpha', float(text))
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
