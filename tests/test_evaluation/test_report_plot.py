"""The report's per-category PNG: AP against training count, categories without ground truth
left out."""
import copy
import json

import pytest

from mmdet_tde.evaluation.fast_lvis import evaluate_lvis, load_lvis_annotations
from mmdet_tde.evaluation.lvis_report import plot_per_category, save_report
from mmdet_tde.testing import make_lvis_annotations, make_lvis_detections

PNG_HEADER = b'\x89PNG\r\n\x1a\n'


def _evaluate(tmp_path, version):
    gt = make_lvis_annotations(30, 60, version=version, seed=5)
    ann_file = tmp_path / f'gt_{version}.json'
    ann_file.write_text(json.dumps(gt))
    dets = make_lvis_detections(gt, 'bbox', dets_per_image=40, seed=6)
    return evaluate_lvis(load_lvis_annotations(str(ann_file)), dets, 'bbox')


@pytest.fixture(scope='module')
def results(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('report_plot')
    return {version: _evaluate(tmp, version) for version in ('v1', 'v0.5')}


def _expected_points(rows, field):
    """Per frequency group, the sorted (count, AP) of the categories with ground truth."""
    expected = {}
    for row in rows:
        if row['AP'] >= 0:
            expected.setdefault(row['frequency'], []).append((row[field], row['AP']))
    return {freq: sorted(points) for freq, points in expected.items()}


def _drawn_points(drawn):
    return {freq: sorted(map(tuple, points.tolist())) for freq, points in drawn.items()}


def test_save_report_writes_the_per_category_png(results, tmp_path):
    result = results['v1']
    paths = save_report(result, str(tmp_path / 'rep' / 'lvis'))
    png = tmp_path / 'rep' / 'lvis.bbox_per_category.png'
    assert paths['per_category_png'] == str(png)
    assert png.read_bytes()[:8] == PNG_HEADER
    assert not [p for p in (tmp_path / 'rep').iterdir() if p.name.startswith('.')]  # no temp
    header = (tmp_path / 'rep' / 'lvis.bbox_per_category.csv').read_text().splitlines()[0]
    assert header.startswith('category_id,name,frequency,image_count,instance_count,')


@pytest.mark.parametrize('version, field', [('v1', 'instance_count'), ('v0.5', 'image_count')])
def test_plotted_points_are_the_categories_with_ground_truth(results, tmp_path, version, field):
    result = results[version]
    rows = result.per_category
    assert all(row['instance_count'] is None for row in rows) == (version == 'v0.5')
    assert any(row['AP'] < 0 for row in rows) and sum(row['AP'] >= 0 for row in rows) > 10
    drawn = plot_per_category(result, str(tmp_path / 'plot.png'))
    assert _drawn_points(drawn) == _expected_points(rows, field)
    assert (tmp_path / 'plot.png').read_bytes()[:8] == PNG_HEADER


def test_categories_without_a_training_count_above_zero_are_left_out(results, tmp_path):
    result = copy.deepcopy(results['v1'])
    row = next(r for r in result.per_category if r['AP'] >= 0)
    row['instance_count'] = 0
    drawn = plot_per_category(result, str(tmp_path / 'plot.png'))
    rows = [r for r in result.per_category if r is not row]
    assert _drawn_points(drawn) == _expected_points(rows, 'instance_count')


def test_without_training_counts_there_is_no_png(results, tmp_path):
    result = copy.deepcopy(results['v0.5'])
    for row in result.per_category:
        row['image_count'] = None
    paths = save_report(result, str(tmp_path / 'lvis'))
    assert 'per_category_png' not in paths
    assert not (tmp_path / 'lvis.bbox_per_category.png').exists()
    assert (tmp_path / 'lvis.bbox_report.json').is_file()
