"""The head-overhead benchmark: what it times and reports, at a tiny size (no timing claims)."""
import json
import re

import pytest

from mmdet_tde.models import CausalNormPredictor

from helpers.benchmarks import load_benchmark


@pytest.fixture(scope='module')
def head_overhead(repo_root):
    return load_benchmark(repo_root, 'head_overhead')


def test_time_interleaved_drops_warmup_and_alternates(head_overhead, monkeypatch):
    """The n-th call lasts n fake seconds: each time lands with its own function and round."""
    now, calls = [0.0], []
    monkeypatch.setattr(head_overhead.timeit, 'default_timer', lambda: now[0])

    def fn(name):
        def call():
            calls.append(name)
            now[0] += len(calls)
        return call

    times = head_overhead.time_interleaved(dict(a=fn('a'), b=fn('b')), rounds=3, warmup=1)
    assert calls == ['a', 'b', 'b', 'a', 'a', 'b', 'b', 'a']
    assert times == dict(a=[4, 5, 8], b=[3, 6, 7])
    summary = head_overhead.compare(times, 'a', 'b')
    assert summary['a'] == dict(median_ms=5000, q1_ms=4500, q3_ms=6500, n=3)
    assert summary['ratio'] == 6 / 5


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


@pytest.mark.slow  # times a few training iterations of two detectors
def test_report_at_tiny_size(head_overhead, tmp_path, monkeypatch):
    """Inference is timed with TDE (the timed training rounds set the head directions first), not
    its no-direction fallback. The table shows the JSON's numbers, each ratio is its medians'
    ratio, the medians lie in their quartiles, every measurement has its rounds; the default
    output is in work_dirs."""
    used_tde = []
    inference_terms = CausalNormPredictor.inference_terms

    def recorded(self, x):
        logits, counterfactual = inference_terms(self, x)
        used_tde.append(counterfactual is not None)
        return logits, counterfactual

    monkeypatch.setattr(CausalNormPredictor, 'inference_terms', recorded)
    out = tmp_path / 'head_overhead.md'
    # mini-LVIS's small heads: the LVIS config's mask head would take seconds per call on a CPU
    results = head_overhead.main([
        '--config', 'configs/minilvis/cascade_baseline_r18_minilvis.py', '--device', 'cpu',
        '--iters', '2', '--warmup', '0', '--img-size', '64', '--depth', '18', '--img-width', '80',
        '--num-classes', '5', '--num-gts', '2', '--test-max-per-img', '10', '--cls-rois', '16',
        '--cls-iters', '3', '--cls-autocast', 'bf16', '--out', str(out)
    ])
    # 3 stages x 2 rounds of the model, then the classifier alone
    assert len(used_tde) > 6 and all(used_tde)
    assert json.loads(out.with_suffix('.json').read_text()) == json.loads(json.dumps(results))
    assert head_overhead.parse_args([]).out == 'work_dirs/head_overhead.md'
    table = out.read_text()
    assert results['models']['memory'] is None  # GPU memory: CUDA only
    amp = results['classifier_autocast']['bf16']
    sections = {'training iteration': (results['models']['train'], 2),
                'inference (test_step': (results['models']['inference'], 2),
                'classifier forward': (results['classifier']['forward'], 3),
                'classifier training': (results['classifier']['train'], 3),
                'classifier inference': (results['classifier']['inference'], 3),
                'classifier train, autocast bf16': (amp['train'], 3)}
    for label, (section, rounds) in sections.items():
        a, b = section[section['baseline']], section[section['candidate']]
        assert a['n'] == b['n'] == rounds
        assert all(s['q1_ms'] <= s['median_ms'] <= s['q3_ms'] for s in (a, b))
        assert section['ratio'] == pytest.approx(b['median_ms'] / a['median_ms'])
        row = next(line for line in table.splitlines() if line.startswith(f'| {label}'))
        numbers = [float(v) for v in re.findall(r'\d+\.\d+', row.split('|', 2)[2])]
        assert numbers == [round(v, 1) for v in (a['median_ms'], a['q1_ms'], a['q3_ms'],
                                                 b['median_ms'], b['q1_ms'], b['q3_ms'])] + [
            round(section['ratio'], 3)]
