""".dev_scripts/gpu/gpu_check_summary.py on the files a gpu_check.sh run leaves, laid out as
mmengine does."""
import json

import pytest


@pytest.fixture(scope='module')
def summary_tool(gpu_script):
    return gpu_script('gpu_check_summary')


def _metrics(ap):
    return {f'lvis/{t}_{n}': ap for t in ('bbox', 'segm') for n in ('AP', 'APr', 'APc', 'APf')}


@pytest.fixture
def work(tmp_path):
    res = tmp_path / 'results'
    res.mkdir()
    (res / 'mode').write_text('GPU\n')
    (res / 'steps.tsv').write_text('mmcv_build\tok\t301\trc=0\ntrain_amp\ttimeout\t150\trc=124\n')
    (res / 'ops_check.log').write_text('{"device": "cuda", "ok": true}\n')
    (res / 'head_overhead.md').write_text('# TDE box head overhead\n\n| training iteration |\n')
    logs = tmp_path / 'runs' / 'train_fp32' / '20260101_000000' / 'vis_data'
    logs.mkdir(parents=True)
    records = [dict(iter=10, loss=3.5, time=0.12, memory=812),
               dict(iter=20, loss=2.25, time=0.10, memory=830), dict(iter=20, coco_AP=0.1)]
    (logs / 'scalars.json').write_text(''.join(json.dumps(r) + '\n' for r in records))
    test = tmp_path / 'runs' / 'test_fp32' / '20260101_000100'
    (test / 'vis_data').mkdir(parents=True)
    (test / 'vis_data' / 'scalars.json').write_text('{}\n')
    (test / '20260101_000100.json').write_text(json.dumps(_metrics(0.25)))
    sweep = tmp_path / 'runs' / 'sweep_fp32'
    sweep.mkdir()
    (sweep / 'alpha_sweep.json').write_text(json.dumps(dict(
        alphas=[0, 1.5], metrics=[_metrics(0.125), _metrics(0.5)],
        mean_cos_head_direction=[0.9, 0.8, 0.7], seconds=dict(one_full_pass=3.0))))
    return tmp_path


def test_summary_has_every_part(summary_tool, work):
    out = work / 'summary.md'
    summary_tool.main([str(work), str(out)])
    text = out.read_text()
    assert text.startswith('# GPU check (GPU)')
    assert '| mmcv_build | ok | 301 | rc=0 |' in text and '| train_amp | timeout |' in text
    assert '| train_fp32 | 20 | 3.5000 | 2.2500 | True | 0.110 | 830 |' in text
    assert '| test_fp32 | ' + ' | '.join(['0.2500'] * 8) + ' |' in text
    assert '| 1.5 | ' + ' | '.join(['0.5000'] * 8) + ' |' in text
    assert 'mean cos(x, d_hat) per stage: 0.900, 0.800, 0.700' in text
    assert '"ok": true' in text and '| training iteration |' in text
    assert not list(work.glob('.*.tmp'))


def test_a_broken_part_leaves_the_others(summary_tool, work):
    (work / 'runs' / 'sweep_fp32' / 'alpha_sweep.json').write_text('{"alphas": [0')
    out = work / 'summary.md'
    summary_tool.main([str(work), str(out)])
    text = out.read_text()
    assert '(could not read: JSONDecodeError' in text
    assert '| train_fp32 | 20 |' in text and '# TDE box head overhead' in text
