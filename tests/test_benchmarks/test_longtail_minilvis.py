"""The long-tail benchmark's bookkeeping: which runs count, and the statistics of its tables.

The trainings themselves run through the tools tested elsewhere; what is tested here is what turns
the committed run JSONs into the published page, against numpy re-computations.
"""
import argparse
import importlib.util
import json
import re

import numpy as np
import pytest


@pytest.fixture(scope='module')
def longtail(repo_root):
    spec = importlib.util.spec_from_file_location(
        'longtail_minilvis', repo_root / 'benchmarks' / 'longtail_minilvis.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def random_metrics(longtail, rng):
    return {key: float(rng.uniform(0.2, 0.8)) for key in longtail.METRICS}


def write_run(longtail, runs_dir, training, seed, results, digest=None):
    digest = digest or longtail.config_digest(longtail.run_configs(training, seed))
    record = dict(training=training, seed=seed, config_digest=digest, results=results)
    (runs_dir / f'{training}_seed{seed}.json').write_text(json.dumps(record))


def cells_of(table_text, label):
    """The cells after the seeds column of the row labelled ``label``."""
    for line in table_text.splitlines():
        cells = [c.strip() for c in line.strip('|').split('|')]
        if cells[0] == label:
            return int(cells[1]), cells[2:]
    raise AssertionError(f'no row {label!r} in\n{table_text}')


def test_paired_table_is_per_seed_difference(longtail):
    rng = np.random.default_rng(0)
    table = {row: {seed: random_metrics(longtail, rng) for seed in (0, 1, 2)}
             for row in ('baseline', 'rfs')}
    del table['rfs'][1]  # only the seeds both rows have are paired
    seeds, cells = cells_of(longtail.paired_table(table, 'baseline'), longtail.ROW_LABELS['rfs'])
    assert seeds == 2
    for key, cell in zip(longtail.METRICS, cells):
        diffs = np.array([table['rfs'][s][key] - table['baseline'][s][key] for s in (0, 2)],
                         dtype=np.float64) * 100
        mean, std, gains = re.fullmatch(r'(-?[\d.]+) ± ([\d.]+) \((\d)/2\)', cell).groups()
        assert float(mean) == pytest.approx(diffs.mean(), abs=0.051)
        assert float(std) == pytest.approx(diffs.std(ddof=1), abs=0.051)
        assert int(gains) == int((diffs > 0).sum())


def test_results_table_is_mean_and_sample_std(longtail):
    rng = np.random.default_rng(1)
    table = {'seesaw': {seed: random_metrics(longtail, rng) for seed in (0, 1, 2)}}
    seeds, cells = cells_of(longtail.results_table(table), longtail.ROW_LABELS['seesaw'])
    assert seeds == 3
    for key, cell in zip(longtail.METRICS, cells):
        values = np.array([table['seesaw'][s][key] for s in (0, 1, 2)], dtype=np.float64) * 100
        mean, std = map(float, cell.split(' ± '))
        assert mean == pytest.approx(values.mean(), abs=0.051)
        assert std == pytest.approx(values.std(ddof=1), abs=0.051)


def test_controls_share_what_they_control(longtail):
    """Joint training reuses the baseline as phase I; each ablation changes one thing."""
    baseline, = longtail.run_configs('baseline', 2)
    joint_phase1, joint_phase2 = longtail.run_configs('joint_then_phase2', 2)
    assert joint_phase1.pretty_text == baseline.pretty_text
    _, no_graph_phase2 = longtail.run_configs('joint_then_phase2_no_graph', 2)
    assert no_graph_phase2.model.roi_head.graph_loss_weight == 0
    assert joint_phase2.model.roi_head.get('graph_loss_weight') is None  # the split's lambda
    _, no_memory_phase2 = longtail.run_configs('dual_phase_no_memory', 2)
    assert no_memory_phase2.train_dataloader.dataset.memory_file == 'empty'
    rfs_control, = longtail.run_configs('baseline_8e', 2)
    assert rfs_control.train_cfg.max_epochs == 2 * baseline.train_cfg.max_epochs
    digests = {longtail.config_digest(longtail.run_configs(t, s))
               for t in ('baseline', 'baseline_8e', 'rfs') for s in (0, 1)}
    assert len(digests) == 6  # a seed or a recipe change is a different run


def test_report_counts_current_runs_and_lists_stale_ones(longtail, tmp_path):
    rng = np.random.default_rng(2)
    runs_dir = tmp_path / 'runs'
    runs_dir.mkdir()
    for seed in (0, 1):
        write_run(longtail, runs_dir, 'baseline', seed,
                  {'baseline': random_metrics(longtail, rng)})
    write_run(longtail, runs_dir, 'rfs', 0, {'rfs': random_metrics(longtail, rng)},
              digest='0123456789abcdef')  # trained with an older config
    args = argparse.Namespace(seeds=[0, 1], runs_dir=str(runs_dir), nproc=2,
                              out=str(tmp_path / 'longtail.md'))
    table, stale = longtail.load_runs(args)
    assert set(table) == {'baseline'} and set(table['baseline']) == {0, 1}
    assert stale == ['rfs_seed0.json']

    longtail.write_report(args)
    page = (tmp_path / 'longtail.md').read_text()
    assert f'Finished trainings: 3 of {2 * len(longtail.TRAININGS)}' in page
    assert 'Left out, trained with an older config: rfs_seed0.json' in page
    assert cells_of(page, longtail.ROW_LABELS['baseline'])[0] == 2
    assert (tmp_path / 'longtail.png').stat().st_size > 0
