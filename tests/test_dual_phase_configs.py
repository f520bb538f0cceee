"""The shipped LVIS dual-phase configs build into the intended models."""
import glob
import inspect

import pytest
from mmengine.config import Config

from mmdet.registry import MODELS

from mmdet_tde.fileio import make_split, phase2_labels, write_json_atomic
from mmdet_tde.models.roi_heads import DualPhaseRoIHeadMixin

from helpers.config_changes import phase1_model, phase2_model, tde_bbox_heads

CONFIGS = sorted(glob.glob('configs/lvis/dual_phase/cascade_*phase*.py'))
MINILVIS = sorted(glob.glob('configs/minilvis/dual_phase/cascade_*phase*.py'))


def split_for(num_classes, path):
    categories = [dict(id=i, name=f'c{i}', frequency='r' if i % 5 == 0 else 'f')
                  for i in range(1, num_classes + 1)]
    write_json_atomic(make_split(categories), str(path))
    return str(path)


def with_split(cfg, split_file):
    """Point every split_file of a phase config at ``split_file``."""
    cfg.train_dataloader.dataset.split_file = split_file
    if 'teacher_config' in cfg.model:
        cfg.model.roi_head.split_file = split_file
    else:
        for head in cfg.model.roi_head.bbox_head:
            head.cls_predictor_cfg.split_file = split_file
    return cfg


def test_all_variants_are_shipped(repo_root):
    names = {path.split('/')[-1] for path in CONFIGS}
    for heads in ('', 'tde_'):
        for phase in (1, 2):
            for variant in ('r101', 'r101_lvis-v0.5', 'x101'):
                assert f'cascade_{heads}phase{phase}_{variant}.py' in names


@pytest.mark.parametrize('config', [c for c in CONFIGS if 'phase2' in c])
def test_lvis_phase2_builds_with_its_teacher(config, tmp_path, repo_root):
    cfg = Config.fromfile(str(repo_root / config))
    shipped_teacher = cfg.model.teacher_config
    num_classes = cfg.model.roi_head.bbox_head[0].num_classes
    split_file = split_for(num_classes, tmp_path / 'split.json')
    teacher = with_split(Config.fromfile(str(repo_root / cfg.model.teacher_config)), split_file)
    teacher_config = str(tmp_path / 'phase1.py')
    teacher.dump(teacher_config)
    cfg.model.teacher_config = teacher_config
    model = MODELS.build(with_split(cfg, split_file).model)

    assert type(model).__name__ == 'DualPhaseCascadeRCNN'
    assert type(model.roi_head).__name__ == 'DualPhaseCascadeRoIHead'
    assert model.backbone.depth == 101
    assert type(model.backbone).__name__ == ('ResNeXt' if 'x101' in config else 'ResNet')
    assert type(model.teacher.backbone).__name__ == type(model.backbone).__name__
    tde = 'tde_' in config
    masks = [head.fc_cls for head in model.teacher.roi_head.bbox_head]
    assert all(type(m).__name__ == ('PhaseMaskedCausalNormPredictor' if tde
                                    else 'PhaseMaskedLinear') for m in masks)
    # the student has every column: the TDE heads' classifier, or mmdet's linear one
    students = [head.fc_cls for head in model.roi_head.bbox_head]
    assert all(type(m).__name__ == ('CausalNormPredictor' if tde else 'Linear')
               for m in students)
    assert all(m.weight.shape[0] == num_classes + 1 for m in students)
    assert ('tde_phase1' in shipped_teacher) == tde
    split = make_split([dict(id=i, name=f'c{i}', frequency='r' if i % 5 == 0 else 'f')
                        for i in range(1, num_classes + 1)])
    masked = (masks[0].logit_mask != 0).nonzero().flatten().tolist()
    assert masked == phase2_labels(split)
    assert model.roi_head.graph_loss_weight == pytest.approx(split['loss_lambda'])
    assert num_classes == (1230 if 'v0.5' in config else 1203)
    dataset = cfg.train_dataloader.dataset
    assert dataset.type == ('DualPhaseLVISV05Dataset' if 'v0.5' in config
                            else 'DualPhaseLVISV1Dataset') and dataset.phase == 2
    # the teacher's checkpoint, the memory and the initial weights: the work dir of the run of
    # the teacher's config, where tools/dist_dual_phase_prepare.sh writes
    phase1_dir = 'work_dirs/' + shipped_teacher.rsplit('/', 1)[1][:-len('.py')] + '/'
    for path in (cfg.model.teacher_checkpoint, dataset.memory_file, cfg.load_from):
        assert path.startswith(phase1_dir)
    for stage in cfg.model.train_cfg.rcnn:
        assert stage.assigner.ignore_iof_thr == 0.5
    assert cfg.model.train_cfg.rpn.assigner.ignore_iof_thr == 0.5


def test_phase2_loss_settings_are_the_roi_heads_defaults():
    """The phase-II configs write out the loss settings; their one home is the RoI head."""
    params = inspect.signature(DualPhaseRoIHeadMixin.__init__).parameters.values()
    defaults = {p.name: p.default for p in params if p.default is not p.empty}
    assert set(defaults) == {'graph_loss_weight', 'graph_reduction', 'graph_loss_form',
                             'graph_temperature', 'graph_normalize', 'intra_loss_weight',
                             'margin', 'num_negatives', 'intra_scores', 'graph_nodes',
                             'head_direction'}
    for config in CONFIGS + MINILVIS:
        if 'phase2' in config:
            roi_head = Config.fromfile(config).model.roi_head
            # the linear heads leave L_intra out (docs/dual_phase.md), the TDE heads keep it
            tde = config.split('/')[-1].startswith('cascade_tde_')
            expected = dict(defaults,
                            intra_loss_weight=defaults['intra_loss_weight'] if tde else 0.0)
            assert {k: roi_head[k] for k in defaults} == expected, config


def expected_model(config):
    """The model of a shipped dual-phase config as the reference functions make it from the
    baseline config of its detector and data (tests/helpers/config_changes.py)."""
    cfg = Config.fromfile(config)
    name = config.split('/')[-1]
    if name.endswith('_minilvis.py'):
        baseline = 'configs/minilvis/cascade_baseline_r18_minilvis.py'
    else:  # '_r101.py' or '_r101_lvis-v0.5.py'
        baseline = f"configs/lvis/cascade_baseline{name[name.index('_r101'):]}"
    base = Config.fromfile(baseline)
    split_file = base.data_root + 'dual_phase_split.json'
    base.merge_from_dict(dict(model=phase1_model(base.model, split_file, 0.5)))
    if 'phase2' in name:
        base.merge_from_dict(dict(model=phase2_model(base.model, split_file,
                                                     cfg.model.teacher_config,
                                                     cfg.model.teacher_checkpoint)))
    if name.startswith('cascade_tde_'):
        predictor = (dict(type='PhaseMaskedCausalNormPredictor', split_file=split_file)
                     if 'phase1' in name else {})
        heads = [h.to_dict() for h in base.model.roi_head.bbox_head]
        base.model.roi_head.bbox_head = tde_bbox_heads(heads, **predictor)
        if 'phase2' in name:  # L_intra on the causal-norm classifier's cosine scores
            base.model.roi_head.intra_loss_weight = inspect.signature(
                DualPhaseRoIHeadMixin.__init__).parameters['intra_loss_weight'].default
    return base.model.to_dict()


# the X101 configs change only the backbone (test_lvis_phase2_builds_with_its_teacher)
@pytest.mark.parametrize('config', [c for c in CONFIGS + MINILVIS if 'x101' not in c],
                         ids=lambda c: c.split('/')[-1][:-len('.py')])
def test_configs_make_the_reference_changes(config):
    """Each config writes out the changes of its phase (and heads) to its baseline's model."""
    assert Config.fromfile(config).model.to_dict() == expected_model(config)
