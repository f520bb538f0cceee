"""LVIS evaluation shared across processes gives one process's numbers, exactly."""
import json
import subprocess
import sys

import numpy as np
import pytest

from mmdet_tde.evaluation.detection_exchange import shard_by_image
from mmdet_tde.evaluation.fast_lvis import (count_categories_below, evaluate_lvis,
                                            evaluate_lvis_fixed, load_lvis_annotations)
from mmdet_tde.utils.process_group import run_in_processes
from mmdet_tde.testing import make_lvis_annotations, make_lvis_detections

NUM_IMAGES = 60
WORLD_SIZE = 2


def run_processes(fn, *args, world_size=WORLD_SIZE):
    """``fn(group, *args)`` in ``world_size`` fresh processes: {rank: (status, value)}.

    Spawned, not forked: a fork of the test process, which other tests leave with threads
    running, can deadlock.
    """
    replies = run_in_processes(fn, world_size, *args)
    return {rank: ('ok', value) if error is None else ('error', f'{type(error).__name__}: {error}')
            for rank, (error, value) in enumerate(replies)}


def _shared(group, gt_dict, dets, iou_type, evaluate, kwargs):
    gt = load_lvis_annotations(gt_dict)
    share, order = shard_by_image(dets, group.world_size, group.rank)
    result = evaluate(gt, share, iou_type, group=group, order=order, **kwargs)
    return None if result is None else (result.summary, result.per_category, result.errors)


@pytest.fixture(scope='module')
def gt_dict():
    return make_lvis_annotations(NUM_IMAGES, 80, seed=3)


@pytest.mark.slow
@pytest.mark.parametrize('iou_type,evaluate,kwargs,decimals', [
    ('bbox', evaluate_lvis, {}, None),
    ('bbox', evaluate_lvis, dict(max_dets=20), 2),  # per-image cap with tied scores
    ('segm', evaluate_lvis, {}, None),
    ('boundary', evaluate_lvis, {}, None),
    ('bbox', evaluate_lvis_fixed, dict(max_dets_per_cat=30), 2),  # per-category cap, ties
    ('segm', evaluate_lvis, dict(max_dets=20, tide=True), 2),  # TIDE's errors too
])
def test_shared_equals_one_process(gt_dict, iou_type, evaluate, kwargs, decimals):
    dets = make_lvis_detections(gt_dict, 'bbox' if iou_type == 'bbox' else 'segm',
                                dets_per_image=40, score_decimals=decimals, seed=4)
    single = evaluate(load_lvis_annotations(gt_dict), [dict(d) for d in dets], iou_type,
                      **kwargs)
    out = run_processes(_shared, gt_dict, dets, iou_type, evaluate, kwargs)
    assert out[1] == ('ok', None)  # only rank 0 returns the result
    status, (summary, per_category, errors) = out[0]
    assert status == 'ok'
    assert errors == single.errors
    assert summary.keys() == single.summary.keys()
    for key, value in single.summary.items():
        assert summary[key] == pytest.approx(value, abs=1e-12), key
    assert per_category == single.per_category
    # Both processes evaluated categories: the split is not all on one side.
    assert any(row['AP' if 'AP' in row else 'AP_fixed'] >= 0 for row in per_category)


def _owners(group, gt_dict, dets):
    from mmdet_tde.evaluation import fast_lvis
    gt = load_lvis_annotations(gt_dict)
    share, _ = shard_by_image(dets, group.world_size, group.rank)
    columns = fast_lvis.check_results(share, gt, 'bbox')
    return fast_lvis._category_owners(columns, gt, group).tolist()  # by sorted category id


@pytest.mark.slow
def test_categories_split_over_processes_by_work(gt_dict):
    dets = make_lvis_detections(gt_dict, 'bbox', dets_per_image=40, seed=4)
    out = run_processes(_owners, gt_dict, dets)
    assert out[0] == out[1]  # every process computes the same owners
    owners = np.array(out[0][1])
    cat_ids = sorted(c['id'] for c in gt_dict['categories'])
    work = np.zeros(len(cat_ids))
    for item in dets + gt_dict['annotations']:
        work[cat_ids.index(item['category_id'])] += 1
    per_process = [work[owners == rank].sum() for rank in (0, 1)]
    # Greedy largest-first: the two loads differ by at most the largest single category.
    assert abs(per_process[0] - per_process[1]) <= work.max()
    assert min(per_process) > 0


def _bad_share(group, gt_dict, dets):
    share, order = shard_by_image(dets, group.world_size, group.rank)
    if group.rank == 1:
        share[0] = dict(share[0], score=float('nan'))
    return evaluate_lvis(load_lvis_annotations(gt_dict), share, 'bbox', group=group,
                         order=order)


@pytest.mark.slow
def test_bad_input_in_one_process_fails_every_process(gt_dict):
    dets = make_lvis_detections(gt_dict, 'bbox', dets_per_image=10, seed=4)
    out = run_processes(_bad_share, gt_dict, dets)
    for rank in (0, 1):
        status, message = out[rank]
        assert status == 'error'
        assert message.startswith('ValueError: process 1 (indices within its share of the '
                                  "results): results[0]: field 'score' is nan")


def _count_below(group, gt_dict, dets):
    share, _ = shard_by_image(dets, group.world_size, group.rank)
    return count_categories_below(load_lvis_annotations(gt_dict), share, 25, group=group)


@pytest.mark.slow
def test_fixed_ap_shortfall_counts_all_processes(gt_dict):
    dets = make_lvis_detections(gt_dict, 'bbox', dets_per_image=40, seed=4)
    expected = count_categories_below(load_lvis_annotations(gt_dict), dets, 25)
    out = run_processes(_count_below, gt_dict, dets)
    assert out[0] == out[1] == ('ok', expected)


def test_shard_by_image_keeps_images_whole_and_positions():
    dets = [dict(image_id=i, n=n) for n, i in enumerate([5, 3, 5, 7, 3, 9])]
    shares = [shard_by_image(dets, 2, rank) for rank in (0, 1)]
    assert shares[0][1] == [0, 2, 3] and shares[1][1] == [1, 4, 5]
    assert [d['n'] for d in shares[0][0]] == [0, 2, 3]
    assert sorted(shares[0][1] + shares[1][1]) == list(range(len(dets)))


def _metric_samples(gt_dict):
    """(gt, pred) entries as mmdet's LVISMetric.process stores them, one per image."""
    dets = make_lvis_detections(gt_dict, 'segm', dets_per_image=30, score_decimals=2, seed=5)
    cat_ids = [c['id'] for c in gt_dict['categories']]
    samples = []
    for img in gt_dict['images']:
        img_dets = [d for d in dets if d['image_id'] == img['id']]
        xywh = np.array([d['bbox'] for d in img_dets], dtype=np.float64).reshape(-1, 4)
        samples.append(({}, dict(
            img_id=img['id'], bboxes=np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], 1),
            scores=np.array([d['score'] for d in img_dets]),
            labels=np.array([cat_ids.index(d['category_id']) for d in img_dets], dtype=np.int64),
            masks=[dict(d['segmentation']) for d in img_dets])))
    return samples


def _metric_evaluate(group, ann_file, samples, kwargs):
    from mmdet_tde.evaluation import FastLVISMetric
    metric = FastLVISMetric(ann_file=ann_file, metric=['bbox', 'segm'], report=False,
                            prefix='lvis', **kwargs)
    # mmengine's DefaultSampler: rank r gets r, r + world_size, ..., the last ranks padded
    # with the first samples.
    total = -(-len(samples) // group.world_size) * group.world_size
    padded = (samples + samples)[:total]
    metric.results = [padded[i] for i in range(group.rank, total, group.world_size)]
    return metric.evaluate(len(samples))


@pytest.mark.slow
@pytest.mark.parametrize('kwargs', [{}, dict(ap_fixed=True)])
def test_metric_shared_equals_one_process(gt_dict, tmp_path, kwargs):
    ann_file = tmp_path / 'lvis_val.json'
    ann_file.write_text(json.dumps(gt_dict))
    samples = _metric_samples(gt_dict)[:NUM_IMAGES - 1]  # odd: one rank is padded
    single = run_processes(_metric_evaluate, str(ann_file), samples, kwargs, world_size=1)
    shared = run_processes(_metric_evaluate, str(ann_file), samples, kwargs)
    assert single[0][0] == 'ok', single[0][1]
    expected = single[0][1]
    assert 'lvis/segm_APr' in expected and ('lvis/bbox_AP_fixed' in expected) == bool(kwargs)
    for rank in (0, 1):  # every rank returns the metrics, as mmengine's evaluate does
        status, metrics = shared[rank]
        assert status == 'ok', metrics
        assert metrics.keys() == expected.keys()
        for key, value in expected.items():
            assert metrics[key] == pytest.approx(value, abs=1e-12), key


def _eval_tool(repo_root, *args):
    return subprocess.run([sys.executable, str(repo_root / 'tools' / 'eval_lvis.py'), *args],
                          capture_output=True, text=True, cwd=repo_root, timeout=600)


@pytest.mark.slow
def test_eval_tool_nproc_gives_one_process_numbers(repo_root, tmp_path, gt_dict):
    dets = make_lvis_detections(gt_dict, 'segm', dets_per_image=30, score_decimals=2, seed=6)
    (tmp_path / 'gt.json').write_text(json.dumps(gt_dict))
    (tmp_path / 'dets.json').write_text(json.dumps(dets))
    metrics = {}
    for nproc in (1, 2):
        out = tmp_path / f'metrics_{nproc}.json'
        proc = _eval_tool(repo_root, str(tmp_path / 'dets.json'), str(tmp_path / 'gt.json'),
                          '--iou-type', 'boundary', '--ap-fixed', '--nproc', str(nproc),
                          '--out', str(out))
        assert proc.returncode == 0, proc.stderr
        assert f'({nproc} process' in proc.stdout
        metrics[nproc] = json.loads(out.read_text())
    assert 'APr_fixed' in metrics[1]
    assert metrics[2] == metrics[1]


@pytest.mark.slow
def test_eval_tool_nproc_bad_input_fails_cleanly(repo_root, tmp_path, gt_dict):
    dets = make_lvis_detections(gt_dict, 'bbox', dets_per_image=5, seed=6)
    dets[-1]['score'] = 'high'
    (tmp_path / 'gt.json').write_text(json.dumps(gt_dict))
    (tmp_path / 'dets.json').write_text(json.dumps(dets))
    proc = _eval_tool(repo_root, str(tmp_path / 'dets.json'), str(tmp_path / 'gt.json'),
                      '--nproc', '2', '--out', str(tmp_path / 'm.json'))
    assert proc.returncode == 1
    assert "field 'score'" in proc.stderr
    assert not (tmp_path / 'm.json').exists()
