"""set_logit_adjustment: which box head a config's logit adjustment goes to, with which counts."""
import json

import pytest
import torch
from mmengine.config import Config

from mmdet.registry import MODELS

from helpers.models import stock_htc_cfg, stock_mask_rcnn_cfg
from mmdet_tde.engine import set_logit_adjustment, set_tde_inference
from mmdet_tde.testing import CLASSES

BASELINE = 'configs/minilvis/cascade_baseline_r18_minilvis.py'
TDE = 'configs/minilvis/cascade_tde_r18_minilvis.py'
RFS = 'configs/minilvis/cascade_rfs_r18_minilvis.py'
COUNTS = list(range(40, 22, -1))  # 18 classes


def _minilvis_cfg(repo_root, tmp_path, config=BASELINE, names=CLASSES, counts=COUNTS):
    """A mini-LVIS config whose training annotation file (categories only) is in tmp_path."""
    cfg = Config.fromfile(str(repo_root / config))
    dataset = cfg.train_dataloader.dataset
    dataset = dataset.get('dataset', dataset)  # inside ClassBalancedDataset
    dataset.data_root = str(tmp_path) + '/'
    (tmp_path / 'annotations').mkdir(exist_ok=True)
    categories = [dict(id=i + 1, name=name, instance_count=n)
                  for i, (name, n) in enumerate(zip(names, counts))]
    (tmp_path / dataset.ann_file).write_text(json.dumps(dict(categories=categories)))
    return cfg


@pytest.mark.parametrize('config', [BASELINE, RFS])
def test_cascade_adjusts_the_last_stage_with_the_training_counts(repo_root, tmp_path, config):
    cfg = _minilvis_cfg(repo_root, tmp_path, config)
    set_logit_adjustment(cfg, 1.5)
    heads = cfg.model.roi_head.bbox_head
    assert [h.type for h in heads] == ['Shared2FCBBoxHead'] * 2 + ['LogitAdjustedShared2FCBBoxHead']
    assert heads[-1].logit_adjustment == dict(tau=1.5, background_exempted=True,
                                              class_counts=COUNTS)
    assert all('logit_adjustment' not in h for h in heads[:2])
    # again, with another tau and form: the configured counts stay
    set_logit_adjustment(cfg, 0.5, background_exempted=False)
    assert heads[-1].type == 'LogitAdjustedShared2FCBBoxHead'
    assert heads[-1].logit_adjustment == dict(tau=0.5, background_exempted=False,
                                              class_counts=COUNTS)


def test_the_adjusted_detector_loads_the_stock_state_dict(repo_root, tmp_path):
    cfg = _minilvis_cfg(repo_root, tmp_path)
    stock = MODELS.build(Config.fromfile(str(repo_root / BASELINE)).model)
    set_logit_adjustment(cfg, 1.0)
    adjusted = MODELS.build(cfg.model)
    adjusted.load_state_dict(stock.state_dict(), strict=True)
    torch.testing.assert_close(adjusted.roi_head.bbox_head[2].log_class_prior,
                               torch.tensor(COUNTS, dtype=torch.float64).div(sum(COUNTS)).log(),
                               rtol=1e-14, atol=0)


def test_tde_heads_infer_without_tde(repo_root, tmp_path):
    cfg = _minilvis_cfg(repo_root, tmp_path, TDE)
    set_logit_adjustment(cfg, 1.0)
    heads = cfg.model.roi_head.bbox_head
    assert [h.type for h in heads] == ['TDEShared2FCBBoxHead'] * 2 + [
        'LogitAdjustedTDEShared2FCBBoxHead']
    assert [h.cls_predictor_cfg.use_tde for h in heads] == [False] * 3
    # the TDE settings still reach all three stages
    assert set_tde_inference(cfg, alpha=2.0) == 3
    MODELS.build(cfg.model)  # builds: the adjusted head refuses only use_tde=True


def test_class_names_and_counts_are_checked(repo_root, tmp_path):
    swapped = (CLASSES[1], CLASSES[0]) + CLASSES[2:]
    with pytest.raises(ValueError, match="label 0 is 'solid_blue_square' in the file and "
                       "'solid_red_circle' in the model"):
        set_logit_adjustment(_minilvis_cfg(repo_root, tmp_path, names=swapped), 1.0)
    zero = COUNTS[:-1] + [0]
    with pytest.raises(ValueError, match="no training instance: 'striped_purple_diamond'"):
        set_logit_adjustment(_minilvis_cfg(repo_root, tmp_path, counts=zero), 1.0)
    cfg = _minilvis_cfg(repo_root, tmp_path)
    with pytest.raises(ValueError, match='tau must be a finite number >= 0, got nan'):
        set_logit_adjustment(cfg, float('nan'))
    assert cfg.model.roi_head.bbox_head[2].type == 'Shared2FCBBoxHead'  # nothing changed


def test_explicit_counts_and_sources(repo_root, tmp_path):
    cfg = _minilvis_cfg(repo_root, tmp_path)
    set_logit_adjustment(cfg, 1.0, class_counts=[1] * 18)
    assert cfg.model.roi_head.bbox_head[2].logit_adjustment.class_counts == [1] * 18
    other = tmp_path / 'other.json'
    other.write_text(json.dumps(dict(
        categories=[dict(id=i + 1, name=n) for i, n in enumerate(CLASSES)],
        annotations=[dict(id=i + 1, category_id=i % 18 + 1) for i in range(20)])))
    set_logit_adjustment(cfg, 1.0, class_counts=dict(ann_file=str(other), source='annotations'))
    assert cfg.model.roi_head.bbox_head[2].logit_adjustment.class_counts == [2, 2] + [1] * 16


def test_standard_roi_head_and_htc(tmp_path):
    cfg = Config(dict(model=stock_mask_rcnn_cfg(num_classes=3, tde=False)))
    set_logit_adjustment(cfg, 1.0, class_counts=[5, 2, 1])
    assert cfg.model.roi_head.bbox_head.type == 'LogitAdjustedShared2FCBBoxHead'
    cfg = Config(dict(model=stock_htc_cfg(num_classes=3, tde=False)))
    set_logit_adjustment(cfg, 1.0, class_counts=[5, 2, 1])
    assert [h.type for h in cfg.model.roi_head.bbox_head][-1] == 'LogitAdjustedShared2FCBBoxHead'


def test_unsupported_models_are_refused():
    with pytest.raises(ValueError, match="no logit-adjusted box head replaces 'BBoxHead'"):
        set_logit_adjustment(Config(dict(model=dict(roi_head=dict(bbox_head=dict(
            type='BBoxHead'))))), 1.0, class_counts=[1])
    with pytest.raises(ValueError, match='no roi_head.bbox_head'):
        set_logit_adjustment(Config(dict(model=dict(type='RetinaNet'))), 1.0, class_counts=[1])
    with pytest.raises(ValueError, match='no train_dataloader.dataset.ann_file'):
        set_logit_adjustment(Config(dict(model=dict(roi_head=dict(bbox_head=dict(
            type='Shared2FCBBoxHead'))))), 1.0)
