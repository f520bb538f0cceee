"""FastLVISMetric fed the way mmdet's test loop feeds it, against the LVIS API."""
import copy
import csv
import json
import math

import numpy as np
import pycocotools.mask as mask_utils
import pytest
import torch
from lvis_eval_helpers import lvis_api_eval, lvis_api_per_category_ap
from mmengine.evaluator import Evaluator
from mmengine.logging import MMLogger

from mmdet.registry import METRICS
from mmdet_tde.evaluation import FastLVISMetric
from mmdet_tde.evaluation.fast_lvis import METRIC_NAMES
from mmdet_tde.testing import make_lvis_annotations, make_lvis_detections

TOL = 1e-12


@pytest.fixture(scope='module')
def lvis_case(tmp_path_factory):
    """Small LVIS set, model-style predictions and the equivalent LVIS results dicts."""
    tmp = tmp_path_factory.mktemp('lvis_metric')
    gt = make_lvis_annotations(14, 20, image_size=(64, 160), seed=17)
    freq = {c['id']: c['frequency'] for c in gt['categories']}
    assert {freq[a['category_id']] for a in gt['annotations']} == set('rcf')
    assert any(a['area'] > 96**2 for a in gt['annotations'])  # APl defined
    ann_file = tmp / 'lvis_val.json'
    ann_file.write_text(json.dumps(gt))
    dets = make_lvis_detections(gt, 'segm', dets_per_image=220, crowded_ratio=0.3, seed=12)
    cat_ids = [c['id'] for c in gt['categories']]
    imgs = {img['id']: img for img in gt['images']}
    samples, ref_dets = [], {'bbox': [], 'segm': []}
    for img_id, img in imgs.items():
        img_dets = [d for d in dets if d['image_id'] == img_id and img_id != 3]  # 3: no preds
        xywh = np.array([d['bbox'] for d in img_dets], dtype=np.float32).reshape(-1, 4)
        xyxy = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
        scores = np.array([d['score'] for d in img_dets], dtype=np.float32)
        masks = np.stack([mask_utils.decode(d['segmentation']) for d in img_dets]).astype(bool) \
            if img_dets else np.zeros((0, img['height'], img['width']), dtype=bool)
        pred = dict(bboxes=torch.from_numpy(xyxy), scores=torch.from_numpy(scores),
                    labels=torch.tensor([cat_ids.index(d['category_id']) for d in img_dets],
                                        dtype=torch.long),
                    masks=torch.from_numpy(masks))
        samples.append(dict(img_id=img_id, ori_shape=(img['height'], img['width']),
                            pred_instances=pred))
        # What the LVIS API gets for the same predictions: xywh boxes from the float32 corners.
        for box, score, mask, det in zip(xyxy.astype(np.float64), scores, masks, img_dets):
            ref = dict(image_id=img_id, category_id=det['category_id'], score=float(score),
                       bbox=[box[0], box[1], box[2] - box[0], box[3] - box[1]])
            ref_dets['bbox'].append(ref)
            rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
            ref_dets['segm'].append(dict(ref, segmentation=dict(
                size=rle['size'], counts=rle['counts'].decode())))
    assert max(len(s['pred_instances']['scores']) for s in samples) > 300
    return gt, str(ann_file), samples, ref_dets


@pytest.fixture(scope='module')
def reference(lvis_case, tmp_path_factory):
    gt, _, _, ref_dets = lvis_case
    tmp = tmp_path_factory.mktemp('lvis_ref')
    return {t: lvis_api_eval(gt, ref_dets[t], t, tmp) for t in ('bbox', 'segm')}


def _run(metric, samples, batch_size=4):
    evaluator = Evaluator(metric)
    for start in range(0, len(samples), batch_size):
        evaluator.process(data_samples=copy.deepcopy(samples[start:start + batch_size]))
    return evaluator.evaluate(len(samples))


def test_metric_matches_lvis_api_and_writes_files(lvis_case, reference, tmp_path):
    _, ann_file, samples, _ = lvis_case
    prefix = tmp_path / 'out' / 'results'
    metric = METRICS.build(dict(type='FastLVISMetric', ann_file=ann_file,
                                metric=['bbox', 'segm'], outfile_prefix=str(prefix)))
    metrics = _run(metric, samples)

    assert set(metrics) == {f'lvis/{t}_{n}' for t in ('bbox', 'segm') for n in METRIC_NAMES}
    for iou_type, ref in reference.items():
        ref_results = ref.get_results()
        for name in METRIC_NAMES:
            assert metrics[f'lvis/{iou_type}_{name}'] == pytest.approx(
                float(ref_results[name]), abs=TOL), (iou_type, name)
        # The results JSON (mmdet's format) gives the same numbers in the LVIS API.
        saved = json.loads((tmp_path / 'out' / f'results.{iou_type}.json').read_text())
        from_file = lvis_api_eval(lvis_case[0], saved, iou_type, tmp_path).get_results()
        for name in METRIC_NAMES:
            assert from_file[name] == pytest.approx(float(ref_results[name]), abs=TOL)
        # Report files: per-category AP as the LVIS API computes it, per-frequency groups.
        ref_cat_ap = lvis_api_per_category_ap(ref)
        with open(tmp_path / 'out' / f'results.{iou_type}_per_category.csv') as f:
            rows = list(csv.DictReader(f))
        assert len(rows) == len(ref_cat_ap)
        for row in rows:
            assert float(row['AP']) == pytest.approx(ref_cat_ap[int(row['category_id'])], abs=TOL)
        report = json.loads((tmp_path / 'out' / f'results.{iou_type}_report.json').read_text())
        assert [r['frequency'] for r in report['per_frequency']] == ['r', 'c', 'f']
        for row in report['per_frequency']:
            assert row['AP'] == pytest.approx(float(ref_results['AP' + row['frequency']]), abs=TOL)
        with open(tmp_path / 'out' / f'results.{iou_type}_per_frequency.csv') as f:
            assert [r['frequency'] for r in csv.DictReader(f)] == ['r', 'c', 'f']


def test_mmdet_lvis_metric_runs_under_numpy2(lvis_case, reference):
    """The compat fix lets mmdet's own LVISMetric run; it rounds to 3 decimals."""
    _, ann_file, samples, _ = lvis_case
    metrics = _run(METRICS.build(dict(type='LVISMetric', ann_file=ann_file,
                                      metric=['bbox', 'segm'])), samples)
    for iou_type, ref in reference.items():
        for name in METRIC_NAMES[:-1]:
            assert metrics[f'lvis/{iou_type}_{name}'] == pytest.approx(
                float(ref.get_results()[name]), abs=5e-4 + 1e-9)


def test_classwise_and_metric_items(lvis_case, reference):
    _, ann_file, samples, _ = lvis_case
    metric = FastLVISMetric(ann_file=ann_file, metric='bbox', classwise=True,
                            metric_items=['APr', 'AR@300'])
    metrics = _run(metric, samples)
    ref_cat_ap = lvis_api_per_category_ap(reference['bbox'])
    names = {c['id']: c['name'] for c in lvis_case[0]['categories']}
    per_cat = {k: v for k, v in metrics.items() if k.endswith('_precision')}
    assert len(per_cat) == len(names)
    for cat_id, ap in ref_cat_ap.items():
        value = metrics[f'lvis/bbox_{names[cat_id]}_precision']
        assert math.isnan(value) if ap < 0 else value == pytest.approx(ap, abs=TOL)
    assert set(metrics) - set(per_cat) == {'lvis/bbox_APr', 'lvis/bbox_AR@300'}


def test_report_goes_to_work_dir_without_outfile_prefix(lvis_case, tmp_path):
    _, ann_file, samples, _ = lvis_case
    log_dir = tmp_path / 'work_dir' / '20250101_000000'  # as a Runner lays out its log
    log_dir.mkdir(parents=True)
    logger = MMLogger.get_instance(
        'fast_lvis_metric_test', log_file=str(log_dir / '20250101_000000.log'))
    try:
        _run(FastLVISMetric(ann_file=ann_file, metric='bbox'), samples[:4])
    finally:  # make the previous logger current again
        for handler in logger.handlers:
            handler.close()
        MMLogger._instance_dict.pop('fast_lvis_metric_test')
    report = json.loads((log_dir / 'lvis_eval.bbox_report.json').read_text())
    assert set(report) == {'iou_type', 'summary', 'per_frequency', 'per_category'}
    assert (log_dir / 'lvis_eval.bbox_per_category.csv').is_file()


def test_format_only_writes_results_only(lvis_case, tmp_path):
    _, ann_file, samples, _ = lvis_case
    metric = FastLVISMetric(ann_file=ann_file, metric=['bbox', 'segm'], format_only=True,
                            outfile_prefix=str(tmp_path / 'sub'))
    assert _run(metric, samples[:3]) == {}
    assert len(json.loads((tmp_path / 'sub.segm.json').read_text())) > 0
    assert not (tmp_path / 'sub.bbox_report.json').exists()


def test_no_predictions_give_zeros(lvis_case, tmp_path):
    gt, ann_file, samples, _ = lvis_case
    empty = copy.deepcopy(samples)
    for sample in empty:
        pred = sample['pred_instances']
        sample['pred_instances'] = {k: v[:0] for k, v in pred.items()}
    metrics = _run(FastLVISMetric(ann_file=ann_file, metric=['bbox', 'segm']), empty)
    # The LVIS API refuses empty results; one detection it drops is the same evaluation.
    img = gt['images'][0]
    present = {a['category_id'] for a in gt['annotations'] if a['image_id'] == img['id']}
    unverified = next(c['id'] for c in gt['categories']
                      if c['id'] not in present and c['id'] not in img['neg_category_ids'])
    ref = lvis_api_eval(gt, [dict(image_id=img['id'], category_id=unverified,
                                  bbox=[1, 1, 5, 5], score=0.5)], 'bbox', tmp_path).get_results()
    for iou_type in ('bbox', 'segm'):
        for name in METRIC_NAMES:
            assert metrics[f'lvis/{iou_type}_{name}'] == pytest.approx(float(ref[name]), abs=TOL)


def test_bad_configs(lvis_case):
    ann_file = lvis_case[1]
    with pytest.raises(ValueError, match='FastLVISMetric needs ann_file'):
        FastLVISMetric(metric='bbox')
    with pytest.raises(KeyError, match="evaluates metric 'bbox', 'segm' and 'boundary', "
                       "got 'proposal'"):
        FastLVISMetric(ann_file=ann_file, metric=['bbox', 'proposal'])
    with pytest.raises(KeyError, match="metric item 'AR@100' is not supported"):
        FastLVISMetric(ann_file=ann_file, metric_items=['AP', 'AR@100'])
    with pytest.raises(FileNotFoundError, match='annotation file not found'):
        FastLVISMetric(ann_file=ann_file + '.missing')


def _class_names(gt: dict) -> list:
    return [c['name'] for c in sorted(gt['categories'], key=lambda c: c['id'])]


def test_dataset_classes_in_annotation_order_pass(lvis_case, reference):
    """The test loop sets dataset_meta on the evaluator; the right classes evaluate as usual."""
    gt, ann_file, samples, _ = lvis_case
    evaluator = Evaluator(FastLVISMetric(ann_file=ann_file, metric='bbox'))
    evaluator.dataset_meta = dict(classes=tuple(_class_names(gt)))  # what TestLoop does
    for start in range(0, len(samples), 4):
        evaluator.process(data_samples=copy.deepcopy(samples[start:start + 4]))
    metrics = evaluator.evaluate(len(samples))
    for name in METRIC_NAMES:
        assert metrics[f'lvis/bbox_{name}'] == pytest.approx(
            float(reference['bbox'].get_results()[name]), abs=TOL)


@pytest.mark.parametrize('change,error', [
    (lambda names: names[:3] + [names[7]] + names[4:7] + [names[3]] + names[8:],
     r"label 3 is 'category_0008' in dataset_meta\['classes'\] but 'category_0004' "
     r'\(category id 4\) in the annotation file \(20 classes, 20 categories\)'),
    (lambda names: names[::-1], r"label 0 is 'category_0020' .* but 'category_0001'"),
    (lambda names: names[:-1],
     r"label 19 is \(none\) in .* but 'category_0020' \(category id 20\) .*\(19 classes"),
    (lambda names: names + ['extra'], r"label 20 is 'extra' in .* but \(none\) in the annotation"),
])
def test_dataset_classes_in_another_order_are_refused(lvis_case, change, error):
    gt, ann_file, _, _ = lvis_case
    evaluator = Evaluator(FastLVISMetric(ann_file=ann_file, metric=['bbox', 'segm']))
    with pytest.raises(ValueError, match='dataset classes do not match the categories of .*'
                       'lvis_val.json: ' + error):
        evaluator.dataset_meta = dict(classes=tuple(change(_class_names(gt))))
    # Metadata without class names (e.g. set by hand) has nothing to compare.
    evaluator.dataset_meta = dict(dataset_type='lvis')
