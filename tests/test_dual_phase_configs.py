"""The shipped LVIS dual-phase configs build into the intended models."""
import glob

import pytest
from mmengine.config import Config

from mmdet.registry import MODELS

from mmdet_tde.datasets.dual_phase_split import make_split, phase2_labels
from mmdet_tde.fileio import write_json_atomic

CONFIGS = sorted(glob.glob('configs/lvis/dual_phase/cascade_*phase*.py'))


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
    assert ('tde_phase1' in cfg.phase1_config) == tde
    split = make_split([dict(id=i, name=f'c{i}', frequency='r' if i % 5 == 0 else 'f')
                        for i in range(1, num_classes + 1)])
    masked = (masks[0].logit_mask != 0).nonzero().flatten().tolist()
    assert masked == phase2_labels(split)
    assert model.roi_head.graph_loss_weight == pytest.approx(split['loss_lambda'])
    assert num_classes == (1230 if 'v0.5' in config else 1203)
    dataset = cfg.train_dataloader.dataset
    assert dataset.type == ('DualPhaseLVISV05Dataset' if 'v0.5' in config
                            else 'DualPhaseLVISV1Dataset') and dataset.phase == 2
    assert dataset.memory_file.startswith(cfg.model.teacher_checkpoint.rsplit('/', 1)[0])
    assert cfg.load_from.startswith(cfg.model.teacher_checkpoint.rsplit('/', 1)[0])
    for stage in cfg.model.train_cfg.rcnn:
        assert stage.assigner.ignore_iof_thr == 0.5
    assert cfg.model.train_cfg.rpn.assigner.ignore_iof_thr == 0.5
