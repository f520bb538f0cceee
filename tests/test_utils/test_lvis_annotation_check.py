"""An LVIS annotation file of the other version is refused before the datasets are built
(issue 31, item 9): a v0.5 file given to a v1 config was mmdet's bare ``KeyError: 'coco_url'``."""
import importlib.util
import json
import sys

import pytest
from mmengine.config import Config

from mmdet_tde.testing import make_lvis_annotations
from mmdet_tde.utils.lvis_annotation_check import (check_lvis_annotation_versions,
                                                   first_image_record)

BASELINE_CONFIG = 'configs/minilvis/cascade_baseline_r18_minilvis.py'
RFS_CONFIG = 'configs/minilvis/cascade_rfs_r18_minilvis.py'
V05_CONFIG = 'configs/lvis/cascade_baseline_r101_lvis-v0.5.py'


def write_lvis(path, version, indent=None, images_last=True):
    """An LVIS file with the images after the annotations (as LVIS orders them) or first."""
    gt = make_lvis_annotations(6, num_categories=20, version=version, seed=1)
    keys = ('info', 'annotations', 'categories', 'images') if images_last else \
        ('images', 'info', 'annotations', 'categories')
    path.write_text(json.dumps({k: gt[k] for k in keys}, indent=indent))
    return gt


@pytest.mark.parametrize('version', ['v1', 'v0.5'])
@pytest.mark.parametrize('indent', [None, 2])
@pytest.mark.parametrize('images_last', [True, False])
def test_first_image_record_equals_the_parsed_file(tmp_path, version, indent, images_last):
    path = tmp_path / 'ann.json'
    write_lvis(path, version, indent, images_last)
    assert first_image_record(str(path)) == json.loads(path.read_text())['images'][0]


def test_first_image_record_of_files_without_images(tmp_path):
    for name, text in [('empty.json', ''), ('list.json', '[1, 2]'),
                       ('no_images.json', '{"annotations": []}'),
                       ('empty_images.json', '{"images": []}'), ('cut.json', '{"images": [{"id"')]:
        (tmp_path / name).write_text(text)
        assert first_image_record(str(tmp_path / name)) is None, name


def config_with(repo_root, config, **ann_files):
    cfg = Config.fromfile(str(repo_root / config))
    for field, path in ann_files.items():
        node = cfg
        for key in field.split('.'):
            node = node[key]
        node.update(data_root='', ann_file=str(path))
    return cfg


def test_a_v05_file_for_a_v1_config_is_refused(tmp_path, repo_root):
    v05, v1 = tmp_path / 'v05.json', tmp_path / 'v1.json'
    write_lvis(v05, 'v0.5')
    write_lvis(v1, 'v1')
    check_lvis_annotation_versions(config_with(repo_root, BASELINE_CONFIG,
                                               **{'val_dataloader.dataset': v1}))
    cfg = config_with(repo_root, BASELINE_CONFIG, **{'val_dataloader.dataset': v05})
    with pytest.raises(ValueError) as err:
        check_lvis_annotation_versions(cfg)
    message = str(err.value)
    assert message.startswith(f'val_dataloader.dataset.ann_file: {v05} is an LVIS v0.5 '
                              "annotation file: its images have no 'coco_url'")
    assert "type='LVISV1Dataset'" in message and 'LVISV05Dataset (LVIS v0.5)' in message


def test_the_wrapped_dataset_of_repeat_factor_sampling_is_checked(tmp_path, repo_root):
    v05 = tmp_path / 'v05.json'
    write_lvis(v05, 'v0.5')
    cfg = config_with(repo_root, RFS_CONFIG, **{'train_dataloader.dataset.dataset': v05})
    assert cfg.train_dataloader.dataset.type == 'ClassBalancedDataset'
    with pytest.raises(ValueError, match=r'^train_dataloader\.dataset\.dataset\.ann_file: '):
        check_lvis_annotation_versions(cfg)


def test_a_v1_file_for_a_v05_config_is_refused(tmp_path, repo_root):
    v1, v05 = tmp_path / 'v1.json', tmp_path / 'v05.json'
    write_lvis(v1, 'v1')
    write_lvis(v05, 'v0.5')
    fields = ('train_dataloader.dataset', 'val_dataloader.dataset',
              'test_dataloader.dataset')
    check_lvis_annotation_versions(config_with(repo_root, V05_CONFIG,
                                               **{f: v05 for f in fields}))
    cfg = config_with(repo_root, V05_CONFIG, **{f: v05 for f in fields[1:]},
                      **{fields[0]: v1})
    with pytest.raises(ValueError, match=r"is an LVIS v1 annotation file: its images have no "
                       r"'file_name', which train_dataloader\.dataset\.type="
                       r"'LVISV05Dataset' reads"):
        check_lvis_annotation_versions(cfg)


def test_files_not_on_disk_are_left_to_the_dataset(tmp_path, repo_root):
    cfg = config_with(repo_root, BASELINE_CONFIG,
                      **{'val_dataloader.dataset': tmp_path / 'missing.json'})
    check_lvis_annotation_versions(cfg)


def test_tools_test_refuses_the_file_before_building_the_runner(tmp_path, repo_root,
                                                                monkeypatch):
    v05 = tmp_path / 'v05.json'
    write_lvis(v05, 'v0.5')
    checkpoint = tmp_path / 'model.pth'
    checkpoint.write_bytes(b'not read')
    spec = importlib.util.spec_from_file_location('tool_test', repo_root / 'tools' / 'test.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, 'argv', [
        'test.py', str(repo_root / BASELINE_CONFIG), str(checkpoint), '--work-dir',
        str(tmp_path / 'work'), '--cfg-options', 'test_dataloader.dataset.data_root=',
        f'test_dataloader.dataset.ann_file={v05}'])
    with pytest.raises(SystemExit) as exit_info:
        module.run_tool(module.main)
    assert str(exit_info.value.code).startswith(
        f'error: ValueError: test_dataloader.dataset.ann_file: {v05} is an LVIS v0.5 '
        'annotation file')
    assert not (tmp_path / 'work').exists()
