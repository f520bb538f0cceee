"""The shipped LVIS configs: the paper's settings, and real models built from them (shrunk)."""
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config

from mmdet.registry import MODELS

from helpers.config_changes import tde_bbox_heads
from helpers.models import make_batch
from mmdet_tde.engine import default_predictor_cfg
from mmdet_tde.models import CausalNormPredictor

REPO = Path(__file__).resolve().parents[1]
BASES = REPO / 'configs/_base_/models'
LVIS_CONFIGS = sorted((REPO / 'configs/lvis').glob('*.py'))
PAPER_PREDICTOR = dict(num_heads=2, tau=16.0, gamma=1 / 32, alpha=1.5, momentum=0.9,
                       norm='deconfound', background_exempted=True)


def load(path):
    return Config.fromfile(str(path))


def load_mmdet(path):
    from mmengine.hub import get_config
    return get_config(f'mmdet::{path}')


def test_all_variants_are_shipped():
    names = {p.name for p in LVIS_CONFIGS}
    for kind in ('baseline', 'deconfound', 'tde'):
        for variant in ('r101', 'r101_lvis-v0.5', 'x101', 'x101_lvis-v0.5'):
            assert f'cascade_{kind}_{variant}.py' in names
    for kind in ('baseline', 'tde'):
        assert f'htc_{kind}_r101.py' in names
        for depth in ('r50', 'r101'):
            assert f'mask-rcnn_{kind}_{depth}.py' in names


def bbox_heads(cfg):
    heads = cfg.model.roi_head.bbox_head
    return heads if isinstance(heads, list) else [heads]


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
    assert cfg.train_cfg.max_epochs == 20 and cfg.train_cfg.val_interval == 20
    multistep = [s for s in cfg.param_scheduler if s.type == 'MultiStepLR'][0]
    assert multistep.milestones == [16, 19] and multistep.gamma == 0.1
    assert cfg.model.test_cfg.rcnn.max_per_img == 300
    detector = path.stem.split('_')[0]
    mask_heads = cfg.model.roi_head.mask_head
    mask_heads = mask_heads if isinstance(mask_heads, list) else [mask_heads]
    assert all(m.num_classes == num_classes for m in mask_heads)
    backbone = cfg.model.backbone
    assert backbone.depth == (50 if 'r50' in path.stem else 101)
    assert backbone.type == ('ResNeXt' if 'x101' in path.stem else 'ResNet')
    if backbone.type == 'ResNeXt':
        assert (backbone.groups, backbone.base_width) == (64, 4)
    heads = bbox_heads(cfg)
    assert len(heads) == (1 if detector == 'mask-rcnn' else 3)
    for head in heads:
        # mmdet's defaults: class-agnostic regression in the cascades, per class in Mask R-CNN
        assert head.num_classes == num_classes
        assert head.reg_class_agnostic == (detector != 'mask-rcnn')
        if 'baseline' in path.stem:
            assert head.type == 'Shared2FCBBoxHead' and 'cls_predictor_cfg' not in head
        else:
            assert head.type == 'TDEShared2FCBBoxHead'
            predictor = head.cls_predictor_cfg
            assert {k: predictor[k] for k in PAPER_PREDICTOR} == PAPER_PREDICTOR
            assert predictor.use_tde == ('tde' in path.stem)


def test_predictor_defaults_have_one_home():
    """The predictor's signature holds the paper's values; the TDE head's default predictor, the
    configs' head swap and the predictor the shipped configs write out are exactly those."""
    defaults = default_predictor_cfg()
    assert defaults == dict(type='CausalNormPredictor', use_tde=True, **PAPER_PREDICTOR)
    head = MODELS.build(dict(type='TDEShared2FCBBoxHead', num_classes=5, in_channels=4,
                             roi_feat_size=2, fc_out_channels=8))
    options = {k: v for k, v in defaults.items() if k != 'type'}
    assert {k: getattr(head.fc_cls, k) for k in options} == options
    swapped = tde_bbox_heads(dict(type='Shared2FCBBoxHead', num_classes=5))
    assert swapped['cls_predictor_cfg'] == defaults
    written = load(BASES / 'tde_predictor.py').tde_predictor.to_dict()
    assert written == defaults
    # built from the written-out values, the classifier is the one a bare head gets
    built = MODELS.build(dict(type='TDEShared2FCBBoxHead', num_classes=5, in_channels=4,
                              roi_feat_size=2, fc_out_channels=8, cls_predictor_cfg=written))
    assert {k: getattr(built.fc_cls, k) for k in options} == options


def stock_heads(mmdet_base):
    heads = load_mmdet(f'_base_/models/{mmdet_base}').model.roi_head.bbox_head
    return [h.to_dict() for h in (heads if isinstance(heads, list) else [heads])]


@pytest.mark.parametrize('base, name, mmdet_base', [
    ('tde_cascade_bbox_heads.py', 'tde_cascade_bbox_heads', 'cascade-mask-rcnn_r50_fpn.py'),
    ('tde_mask-rcnn_bbox_head.py', 'tde_mask_rcnn_bbox_head', 'mask-rcnn_r50_fpn.py')])
def test_head_bases_are_mmdets_heads_with_the_tde_classifier(base, name, mmdet_base):
    """Each stage keeps mmdet's settings (its target stds, regression, losses); only the head
    type and the predictor differ, and num_classes is left to the config."""
    heads = load(BASES / base)[name]
    heads = [h.to_dict() for h in (heads if isinstance(heads, list) else [heads])]
    expected = [tde_bbox_heads(h) for h in stock_heads(mmdet_base)]
    for head in expected:
        del head['num_classes']
    assert heads == expected


# Each TDE or de-confound config and the baseline config of the same detector and data.
TDE_AND_BASELINE = [(p.stem, p.stem.replace('tde', 'baseline').replace('deconfound', 'baseline'))
                    for p in LVIS_CONFIGS if 'baseline' not in p.stem]


@pytest.mark.parametrize('name, baseline', TDE_AND_BASELINE, ids=[n for n, _ in TDE_AND_BASELINE])
def test_tde_config_is_its_baseline_with_tde_box_classifiers(name, baseline):
    """Only the box heads' type and predictor differ: same detector, data and schedule."""
    cfg, base = load(REPO / f'configs/lvis/{name}.py'), load(REPO / f'configs/lvis/{baseline}.py')
    heads = bbox_heads(base)
    heads = tde_bbox_heads([h.to_dict() for h in heads], use_tde='deconfound' not in name)
    base.model.roi_head.bbox_head = heads if len(heads) > 1 else heads[0]
    # the head bases' variables are not settings
    settings = {k: v for k, v in cfg.to_dict().items() if not k.startswith('tde_')}
    assert settings == base.to_dict()


class FakeRunner:
    """What mmengine's EpochBasedTrainLoop.run() uses of a runner; records the validations."""

    def __init__(self):
        self.validations = []
        self.val_loop = self
        self.model = self.loop = None

    def call_hook(self, *args, **kwargs):
        pass

    def run(self):  # the val loop's
        self.validations.append(self.loop.epoch)


class FakeLoader(list):
    dataset = None


def test_lvis_validates_only_after_training():
    """A pass over LVIS val is long: one, after the last epoch, also with a shortened schedule.

    Every LVIS config has this schedule (val_interval == max_epochs, test_paper_settings)."""
    from mmengine.runner import EpochBasedTrainLoop
    train_cfg = load(REPO / 'configs/lvis/cascade_tde_r101.py').train_cfg
    args = {k: v for k, v in train_cfg.items() if k not in ('type', '_scope_')}
    for max_epochs in (train_cfg.max_epochs, 12):
        runner = FakeRunner()
        loop = EpochBasedTrainLoop(runner, FakeLoader([0]), **dict(args, max_epochs=max_epochs))
        loop.run_epoch = lambda loop=loop: setattr(loop, '_epoch', loop.epoch + 1)
        runner.loop = loop
        loop.run()
        assert runner.validations == [max_epochs]


def shrink(cfg):
    """Smaller backbone of the same family, no pretrained weights, fewer proposals and RoIs.

    With LVIS's 1203 classes the mask heads' logits dominate: fewer RoIs keep the test quick."""
    cfg.model.train_cfg.rpn_proposal.max_per_img = 200
    rcnn = cfg.model.train_cfg.rcnn
    for stage in rcnn if isinstance(rcnn, list) else [rcnn]:
        stage.sampler.num = 64
    cfg.model.test_cfg.rpn.max_per_img = 40
    cfg.model.test_cfg.rcnn.max_per_img = 50
    backbone = cfg.model.backbone
    backbone.init_cfg = None
    if backbone.type == 'ResNeXt':
        backbone.update(depth=50, groups=2, base_width=4)
    else:
        backbone.depth = 18
        cfg.model.neck.in_channels = [64, 128, 256, 512]
    return cfg


def test_htc_is_mmdets_htc_without_semantic():
    """Only the backbone depth, the classes and LVIS's test settings differ from mmdet's HTC."""
    expected = load_mmdet('htc/htc-without-semantic_r50_fpn_1x_coco.py').model
    expected.backbone.update(
        depth=101, init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet101'))
    for head in expected.roi_head.bbox_head + expected.roi_head.mask_head:
        head.num_classes = 1203
    expected.test_cfg.rcnn.update(score_thr=0.0001, max_per_img=300)
    # From the Cascade Mask R-CNN base: MaxIoUAssigner's default written out, and ground-truth
    # masks padded to the batch shape (their crops, the mask targets, are the same).
    for stage in [expected.train_cfg.rpn] + expected.train_cfg.rcnn:
        stage.assigner.match_low_quality = True
    expected.data_preprocessor.pad_mask = True
    model = load(REPO / 'configs/lvis/htc_baseline_r101.py').model.to_dict()
    model.pop('_scope_')
    assert model == expected.to_dict()


def record_tde_use(predictor, calls):
    """Appends, per inference call of the classifier, whether it removed a head direction."""
    inference_terms = predictor.inference_terms

    def wrapped(x):
        logits, counterfactual = inference_terms(x)
        calls.append(counterfactual is not None)
        return logits, counterfactual

    predictor.inference_terms = wrapped


# The baselines check that the plugin leaves mmdet's stock heads alone. With LVIS's classes a
# full-size config takes one to several minutes on 2 CPU cores: all but the lightest are slow.
@pytest.mark.parametrize('name', [
    'mask-rcnn_tde_r50',
    *(pytest.param(name, marks=pytest.mark.slow)
      for name in ('cascade_tde_r101', 'cascade_tde_x101_lvis-v0.5', 'htc_tde_r101',
                   'mask-rcnn_tde_r101', 'cascade_baseline_r101', 'mask-rcnn_baseline_r50'))])
def test_shipped_config_trains_and_predicts(name):
    cfg = shrink(load(REPO / f'configs/lvis/{name}.py'))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    heads = model.roi_head.bbox_head
    heads = list(heads) if isinstance(heads, torch.nn.ModuleList) else [heads]
    assert len(heads) == len(bbox_heads(cfg))
    is_tde = 'tde' in name
    assert all(isinstance(h.fc_cls, CausalNormPredictor) == is_tde for h in heads)
    num_classes = bbox_heads(cfg)[0].num_classes
    labels = ((0, num_classes - 1, 7), (3, ))
    model.train()
    data = model.data_preprocessor(make_batch(size=64, labels=labels), True)
    loss, log_vars = model.parse_losses(model.loss(data['inputs'], data['data_samples']))
    loss.backward()
    assert np.isfinite(float(loss))
    tde_calls = []
    if is_tde:
        assert all(h.fc_cls.has_head_direction for h in heads)
        for head in heads:
            record_tde_use(head.fc_cls, tde_calls)
    model.eval()
    with torch.no_grad():
        data = model.data_preprocessor(make_batch(size=64, labels=labels, seed=1), False)
        results = model.predict(data['inputs'], data['data_samples'])
    # every stage scored its RoIs with TDE, once
    assert tde_calls == [True] * len(heads) * is_tde
    for result in results:
        pred = result.pred_instances
        assert len(pred) <= 50 and pred.bboxes.shape[1] == 4
        assert torch.isfinite(pred.scores).all() and (pred.scores <= 1).all()
        assert ((pred.labels >= 0) & (pred.labels < num_classes)).all()
        assert pred.masks.shape[1:] == (64, 64)
