"""The head-overhead benchmark at a tiny size: report structure and sane models, no timings."""
import importlib.util
import json
import math

import pytest


@pytest.fixture(scope='module')
def head_overhead(repo_root):
    spec = importlib.util.spec_from_file_location('head_overhead',
                                                  repo_root / 'benchmarks' / 'head_overhead.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_time_interleaved_drops_warmup_and_alternates(head_overhead):
    calls = []
    times = head_overhead.time_interleaved(dict(a=lambda: calls.append('a'),
                                                b=lambda: calls.append('b')),
                                           iters=3, warmup=1, device='cpu')
    assert calls == ['a', 'b', 'b', 'a', 'a', 'b', 'b', 'a']
    assert [len(t) for t in times.values()] == [3, 3]
    summary = head_overhead.compare(times, 'a', 'b')
    assert summary['a']['q1_ms'] <= summary['a']['median_ms'] <= summary['a']['q3_ms']
    assert summary['ratio'] > 0


def test_models_share_weights(head_overhead):
    models, not_shared = head_overhead.build_models('configs/lvis/cascade_baseline_r101.py', 18, 4,
                                                    'cpu', test_score_thr=0.05)
    stock, tde = models['stock'].state_dict(), models['tde'].state_dict()
    assert not_shared == [f'roi_head.bbox_head.{i}.fc_cls.head_direction' for i in range(3)]
    assert all(stock[k].equal(v) for k, v in tde.items() if k not in not_shared)
    head_types = {name: [type(h).__name__ for h in model.roi_head.bbox_head]
                  for name, model in models.items()}
    assert head_types['tde'] == ['TDEShared2FCBBoxHead'] * 3
    assert head_types['stock'] == ['Shared2FCBBoxHead'] * 3


def test_make_batch_non_square(head_overhead):
    batch = head_overhead.make_batch(2, 48, 5, 3, width=80)
    assert [tuple(x.shape) for x in batch['inputs']] == [(3, 48, 80)] * 2
    for sample in batch['data_samples']:
        assert sample.metainfo['img_shape'] == (48, 80)
        boxes = sample.gt_instances.bboxes
        assert (boxes[:, 2] <= 79).all() and (boxes[:, 3] <= 47).all()
        assert (boxes[:, 2:] > boxes[:, :2]).all()
        assert sample.gt_instances.masks.masks.shape == (3, 48, 80)


def test_report_at_tiny_size(head_overhead, tmp_path):
    out = tmp_path / 'head_overhead.md'
    results = head_overhead.main([
        '--device', 'cpu', '--iters', '2', '--warmup', '1', '--img-size', '64', '--depth', '18',
        '--img-width', '80', '--num-classes', '5', '--num-gts', '2', '--test-score-thr', '0.0',
        '--cls-rois', '16', '--cls-iters', '2', '--cls-autocast', 'bf16', '--out', str(out)
    ])
    table = out.read_text()
    saved = json.loads(out.with_suffix('.json').read_text())
    assert saved == json.loads(json.dumps(results))
    for row in ('training iteration', 'inference (test_step', 'classifier forward',
                'classifier training', 'classifier inference', 'Machine:', 'Command: `python ',
                'classifier train, autocast bf16', '80x64 (width x height)'):
        assert row in table
    amp = saved['classifier_autocast']['bf16']
    assert amp['autocast'] == 'bf16' and saved['classifier']['autocast'] is None
    assert saved['models']['memory'] is None  # GPU memory: CUDA only
    for section in (saved['models']['train'], saved['models']['inference'],
                    *(saved['classifier'][k] for k in ('forward', 'train', 'inference')),
                    *(amp[k] for k in ('forward', 'train', 'inference'))):
        assert section[section['baseline']]['n'] == 2 and section[section['candidate']]['n'] == 2
        assert math.isfinite(section['ratio']) and section['ratio'] > 0
    checks = saved['models']['checks']
    assert checks['losses_finite'] == dict(stock=True, tde=True)
    assert checks['loss_keys']['stock'] == checks['loss_keys']['tde']
    assert checks['tde_head_directions_set'] == [True, True, True]
    # score_thr 0: both models detect boxes with masks; NMS may leave them different counts
    assert all(s['bboxes'][0] > 0 for s in checks['prediction_shapes']['tde'])
    assert saved['same_prediction_structure']
    assert saved['classifier']['shape'] == [16, 1024, 6]
    assert {'train', 'inference', 'train_met', 'inference_met'} <= saved['targets'].keys()
