"""The training-profile benchmark's summary and page, from hand-made clocks (no training)."""
import json

import pytest

from helpers.benchmarks import load_benchmark


@pytest.fixture(scope='module')
def profile(repo_root):
    return load_benchmark(repo_root, 'minilvis_train_profile')


def _iteration(profile, scale):
    """One iteration's seconds: section i takes (i + 1) * scale, total their sum."""
    sections = {k: (i + 1) * scale for i, k in enumerate(profile.SECTIONS)}
    return dict(sections, total=sum(sections.values()))


def test_summary_leaves_warmup_out_and_averages_in_ms(profile):
    iterations = [_iteration(profile, 10.0)] * 2 + [_iteration(profile, 0.001),
                                                    _iteration(profile, 0.003)]
    summary = profile.summarise(iterations, warmup=2)
    assert summary['data'] == pytest.approx(2.0)  # (1 + 3) ms / 2
    assert summary['other'] == pytest.approx(2.0 * len(profile.SECTIONS))
    assert summary['total'] == pytest.approx(sum(summary[k] for k in profile.SECTIONS))


def test_page_rebuilds_from_json_with_ratio_and_largest_cuts(profile, tmp_path):
    before = profile.summarise([_iteration(profile, 0.002)], warmup=0)
    shipped = dict(before, backward=before['backward'] / 4, bbox_head=before['bbox_head'] / 2,
                   data=before['data'] + 5)
    shipped['total'] = sum(shipped[k] for k in profile.SECTIONS)
    run = dict(config='c.py', iters=30, warmup=8, nproc=2,
               variants={'before': ['first', {'a': 1}], 'shipped': ['as it is', {}]},
               ms_per_iteration={'before': before, 'shipped': shipped})
    (tmp_path / 'page.json').write_text(json.dumps(run))
    out = tmp_path / 'page.md'
    with open(tmp_path / 'page.json') as f:
        profile.write_page(json.load(f), str(out))
    text = out.read_text()
    ratio = shipped['total'] / before['total']
    assert f'take {ratio:.2f} of `before`' in text
    # backward fell most (3/4 of 20 ms), then bbox_head (half of 14 ms); data grew
    backward, bbox_head = profile.SECTIONS.index('backward'), profile.SECTIONS.index('bbox_head')
    assert profile.largest_cuts(run['ms_per_iteration'], count=2) == (
        f'backward {2 * (backward + 1):.0f} -> {(backward + 1) / 2:.0f} ms, '
        f'bbox_head {2 * (bbox_head + 1):.0f} -> {bbox_head + 1:.0f} ms')
    assert '--iters 30 --warmup 8' in text and '| total / before | 1.00 |' in text
