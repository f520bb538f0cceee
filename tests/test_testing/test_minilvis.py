"""mini-LVIS: deterministic, valid for the LVIS API and mmdet, LVIS frequency rules re-derived."""
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from mmengine.config import Config
from pycocotools import mask as mask_utils

from mmdet.registry import DATASETS

from mmdet_tde.testing import CLASSES, MiniLVISOptions, make_minilvis

REPO = Path(__file__).resolve().parents[2]
SMALL = MiniLVISOptions(seed=7, num_train=160, num_val=20)


def quiet(*args):
    pass


@pytest.fixture(scope='module')
def dataset_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp('minilvis')
    make_minilvis(str(out), SMALL, progress=quiet)
    return out


def load(d, split):
    return json.loads((d / 'annotations' / f'minilvis_v1_{split}.json').read_text())


def tree_digest(d):
    h = hashlib.sha256()
    for p in sorted(d.rglob('*')):
        if p.is_file() and p.name != 'meta.json':
            h.update(str(p.relative_to(d)).encode() + p.read_bytes())
    return h.hexdigest()


def test_deterministic_and_seed_dependent(dataset_dir, tmp_path):
    make_minilvis(str(tmp_path / 'same'), SMALL, progress=quiet)
    assert tree_digest(tmp_path / 'same') == tree_digest(dataset_dir)
    make_minilvis(str(tmp_path / 'other'), MiniLVISOptions(seed=8, num_train=160, num_val=20),
                  progress=quiet)
    assert load(tmp_path / 'other', 'train') != load(dataset_dir, 'train')


def test_rerun_with_same_options_is_skipped(dataset_dir):
    messages = []
    make_minilvis(str(dataset_dir), SMALL, progress=messages.append)
    assert messages and 'already generated' in messages[0]


def test_lvis_api_loads_and_frequencies_follow_lvis_rule(dataset_dir):
    from lvis import LVIS
    for split in ('train', 'val'):
        api = LVIS(str(dataset_dir / 'annotations' / f'minilvis_v1_{split}.json'))
        assert len(api.get_img_ids()) > 0
    train = load(dataset_dir, 'train')
    seen = set()
    for cat in train['categories']:
        anns = [a for a in train['annotations'] if a['category_id'] == cat['id']]
        images = {a['image_id'] for a in anns}
        assert cat['image_count'] == len(images) and cat['instance_count'] == len(anns)
        n = len(images)
        assert cat['frequency'] == ('r' if n <= 10 else 'c' if n <= 100 else 'f')
        seen.add(cat['frequency'])
    assert seen == {'r', 'c', 'f'}
    assert tuple(c['name'] for c in train['categories']) == CLASSES


def test_val_is_roughly_balanced(dataset_dir):
    val = load(dataset_dir, 'val')
    counts = np.bincount([a['category_id'] for a in val['annotations']],
                         minlength=len(CLASSES) + 1)[1:]
    # one instance per category and image, a second one in about 20% of them
    assert counts.min() > 0 and counts.max() <= 2 * counts.min() + 2


def test_geometry_negatives_and_not_exhaustive(dataset_dir):
    not_exhaustive_seen = False
    for split in ('train', 'val'):
        data = load(dataset_dir, split)
        present = {}
        for ann in data['annotations']:
            present.setdefault(ann['image_id'], set()).add(ann['category_id'])
            poly = np.array(ann['segmentation'][0]).reshape(-1, 2)
            assert (poly >= 0).all() and (poly <= SMALL.img_size - 1).all()
            x0, y0 = poly.min(0)
            x1, y1 = poly.max(0)
            np.testing.assert_allclose(ann['bbox'], [x0, y0, x1 - x0, y1 - y0], atol=0.02)
            rle = mask_utils.frPyObjects(ann['segmentation'], SMALL.img_size, SMALL.img_size)
            # pycocotools rasterises the polygon: its box agrees with the polygon's to 3 pixels
            # (thin star tips)
            assert np.allclose(mask_utils.toBbox(mask_utils.merge(rle)), ann['bbox'], atol=3)
            assert ann['area'] == pytest.approx(mask_utils.area(mask_utils.merge(rle)),
                                                rel=0.25, abs=20)
        for img in data['images']:
            assert (dataset_dir / img['file_name']).is_file()
            assert not set(img['neg_category_ids']) & present[img['id']]
            assert set(img['not_exhaustive_category_ids']) <= present[img['id']]
            not_exhaustive_seen |= bool(img['not_exhaustive_category_ids'])
    assert not_exhaustive_seen


def test_mmdet_lvis_dataset_with_shipped_config(dataset_dir):
    cfg = Config.fromfile(str(REPO / 'configs/minilvis/cascade_baseline_r18_minilvis.py'))
    assert tuple(cfg.classes) == CLASSES and cfg.num_classes == len(CLASSES)
    ds_cfg = cfg.train_dataloader.dataset
    ds_cfg.data_root = str(dataset_dir)
    dataset = DATASETS.build(ds_cfg)
    train = load(dataset_dir, 'train')
    assert len(dataset) == len(train['images'])
    item = dataset[0]
    sample = item['data_samples']
    img = next(i for i in train['images'] if i['id'] == sample.img_id)
    anns = [a for a in train['annotations'] if a['image_id'] == img['id']]
    assert tuple(item['inputs'].shape) == (3, SMALL.img_size, SMALL.img_size)
    gt = sample.gt_instances
    assert len(gt) == len(anns)
    assert sorted(gt.labels.tolist()) == sorted(a['category_id'] - 1 for a in anns)
    if not sample.flip:
        boxes = sorted(gt.bboxes.tensor.tolist())
        expected = sorted([a['bbox'][0], a['bbox'][1], a['bbox'][0] + a['bbox'][2],
                           a['bbox'][1] + a['bbox'][3]] for a in anns)
        np.testing.assert_allclose(boxes, expected, atol=1e-3)
    assert gt.masks.masks.shape[0] == len(anns)
