"""The shipped LVIS configs: the paper's settings, and real models built from them (shrunk)."""
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config

from mmdet.registry import MODELS

from mmdet_tde.models import CausalNormPredictor

REPO = Path(__file__).resolve().parents[1]
LVIS_CONFIGS = sorted((REPO / 'configs/lvis').glob('*.py'))
PAPER_PREDICTOR = dict(num_heads=2, tau=16.0, gamma=1 / 32, alpha=1.5, momentum=0.9,
                       norm='deconfound', background_exempted=True)


def load(path):
    return Config.fromfile(str(path))


def test_all_variants_are_shipped():
    names = {p.name for p in LVIS_CONFIGS}
    for kind in ('baseline', 'deconfound', 'tde'):
        for variant in ('r101', 'r101_lvis-v0.5', 'x101', 'x101_lvis-v0.5'):
            assert f'cascade_{kind}_{variant}.py' in names


@pytest.mark.parametrize('path', LVIS_CONFIGS, ids=lambda p: p.stem)
def test_paper_settings(path):
    cfg = load(path)
    v05 = 'lvis-v0.5' in path.stem
    num_classes = 1230 if v05 else 1203
    assert cfg.train_dataloader.dataset.type == ('LVISV05Dataset' if v05 else 'LVISV1Dataset')
    assert cfg.val_evaluator.type == 'FastLVISMetric'
    assert ('v0.5' in cfg.val_evaluator.ann_file) == v05
    assert 'mmdet_tde' in cfg.custom_imports.imports
    # plain random sampling, single-scale 1333x800
    resize = [t for t in cfg.train_dataloader.dataset.pipeline if t.type == 'Resize']
    assert len(resize) == 1 and tuple(resize[0].scale) == (1333, 800)
    assert cfg.train_dataloader.batch_size == 2 and cfg.auto_scale_lr.base_batch_size == 16
    assert cfg.optim_wrapper.optimizer.lr == 0.02 and cfg.optim_wrapper.optimizer.momentum == 0.9
    assert cfg.train_cfg.max_epochs == 20
    multistep = [s for s in cfg.param_scheduler if s.type == 'MultiStepLR'][0]
    assert multistep.milestones == [16, 19] and multistep.gamma == 0.1
    assert cfg.model.test_cfg.rcnn.max_per_img == 300
    assert cfg.model.roi_head.mask_head.num_classes == num_classes
    backbone = cfg.model.backbone
    assert backbone.depth == 101
    assert backbone.type == ('ResNeXt' if 'x101' in path.stem else 'ResNet')
    if backbone.type == 'ResNeXt':
        assert (backbone.groups, backbone.base_width) == (64, 4)
    heads = cfg.model.roi_head.bbox_head
    assert len(heads) == 3
    for head in heads:
        assert head.num_classes == num_classes and head.reg_class_agnostic
        if 'baseline' in path.stem:
            assert head.type == 'Shared2FCBBoxHead' and 'cls_predictor_cfg' not in head
        else:
            assert head.type == 'TDEShared2FCBBoxHead'
            predictor = head.cls_predictor_cfg
            assert {k: predictor[k] for k in PAPER_PREDICTOR} == PAPER_PREDICTOR
            assert predictor.use_tde == ('tde' in path.stem)


def shrink(cfg):
    """Smaller backbone of the same family, no pretrained weights, fewer proposals."""
    cfg.model.train_cfg.rpn_proposal.max_per_img = 200
    cfg.model.test_cfg.rpn.max_per_img = 40
    backbone = cfg.model.backbone
    backbone.init_cfg = None
    if backbone.type == 'ResNeXt':
        backbone.update(depth=50, groups=2, base_width=4)
    else:
        backbone.depth = 18
        cfg.model.neck.in_channels = [64, 128, 256, 512]
    return cfg


@pytest.mark.parametrize('name', ['cascade_tde_r101', 'cascade_tde_x101_lvis-v0.5'])
def test_shipped_config_trains_and_predicts(name):
    import sys
    sys.path.insert(0, str(REPO / "tests/test_models"))
    from model_helpers import make_batch
    cfg = shrink(load(REPO / f'configs/lvis/{name}.py'))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    is_tde = 'tde' in name
    assert all(isinstance(h.fc_cls, CausalNormPredictor) == is_tde
               for h in model.roi_head.bbox_head)
    num_classes = cfg.model.roi_head.mask_head.num_classes
    labels = ((0, num_classes - 1, 7), (3, ))
    model.train()
    data = model.data_preprocessor(make_batch(size=64, labels=labels), True)
    loss, log_vars = model.parse_losses(model.loss(data['inputs'], data['data_samples']))
    loss.backward()
    assert np.isfinite(float(loss))
    if is_tde:
        assert all(h.fc_cls.has_head_direction for h in model.roi_head.bbox_head)
    model.eval()
    with torch.no_grad():
        data = model.data_preprocessor(make_batch(size=64, labels=labels, seed=1), False)
        results = model.predict(data['inputs'], data['data_samples'])
    for result in results:
        pred = result.pred_instances
        assert len(pred) <= 300 and pred.bboxes.shape[1] == 4
        assert torch.isfinite(pred.scores).all() and (pred.scores <= 1).all()
        assert ((pred.labels >= 0) & (pred.labels < num_classes)).all()
        assert pred.masks.shape[1:] == (64, 64)
