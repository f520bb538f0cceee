"""The long-tail benchmark's bookkeeping: which runs count, what each trains, and the statistics
of its tables and readings.

The trainings themselves run through the tools tested elsewhere; what is tested here is what turns
the committed run JSONs into the published pages, against numpy re-computations.
"""
import argparse
import inspect
import json
import pathlib
import re

import numpy as np
import pytest

from helpers.benchmarks import load_benchmark


@pytest.fixture(scope='module')
def longtail(repo_root):
    return load_benchmark(repo_root, 'longtail_minilvis')


def random_metrics(longtail, rng, low=0.2, high=0.8):
    return {key: float(rng.uniform(low, high)) for key in longtail.METRICS}


def write_run(longtail, runs_dir, training, epochs, seed, results, digest=None,
              train_seconds=100):
    digest = digest or longtail.run_digest(training, epochs, seed)
    record = dict(training=training, seed=seed, epochs=epochs, config_digest=digest,
                  train_seconds=train_seconds, results=results)
    (runs_dir / f'{longtail.run_name(training, epochs, seed)}.json').write_text(json.dumps(record))


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


def test_a_difference_that_rounds_to_zero_has_no_sign(longtail):
    assert longtail.mean_std([-0.0004]) == '0.0'
    assert longtail.mean_std([-0.0006]) == '-0.1'
    assert longtail.mean_std([-0.0004, -0.0004]) == '0.0 ± 0.0'


def test_verdict_needs_every_seed_on_box_and_mask(longtail):
    rng = np.random.default_rng(3)
    reference = {seed: random_metrics(longtail, rng, 0.3, 0.5) for seed in (0, 1, 2)}
    method = {seed: {k: v + 0.1 for k, v in m.items()} for seed, m in reference.items()}
    method[1]['segm_APc'] = reference[1]['segm_APc'] - 0.01  # one seed, mask only, loses APc
    for seed in method:  # every seed loses APf on both
        method[seed]['bbox_APf'] = reference[seed]['bbox_APf'] - 0.02
        method[seed]['segm_APf'] = reference[seed]['segm_APf'] - 0.03
    table = {'baseline': reference, 'rfs': method}
    assert longtail.verdict(table, 'rfs', 'baseline') == dict(
        AP='helps', APr='helps', APc='mixed', APf='hurts')
    del table['rfs'][2]
    assert longtail.verdict(table, 'rfs', 'baseline') is None  # fewer than 3 pairs


def test_every_training_runs_the_same_iterations(longtail):
    """RFS repeats images inside the baseline's iterations: the schedule is set in iterations."""
    configs = {t: cfgs[0] for t in longtail.TRAININGS
               for cfgs in [longtail.run_configs(t, 8, 0)]}
    iters = 8 * longtail.ITERS_PER_EPOCH
    for training, cfg in configs.items():
        assert cfg.train_cfg.type == 'IterBasedTrainLoop', training
        assert cfg.train_cfg.max_iters == iters and cfg.train_cfg.val_begin > iters
        warmup, step = cfg.param_scheduler
        assert (warmup.end, step.milestones, step.by_epoch) == (100, [round(0.75 * iters)], False)
    assert configs['rfs'].train_dataloader.dataset.type == 'ClassBalancedDataset'
    assert configs['deconfound_rfs'].train_dataloader.dataset.type == 'ClassBalancedDataset'
    assert configs['deconfound_rfs'].model == configs['deconfound'].model
    assert configs['rfs'].model == configs['baseline'].model
    assert (configs['seesaw'].model.roi_head.mask_head.predictor_cfg.type == 'NormedConv2d')


@pytest.mark.parametrize('training', ['baseline_before', 'rfs_before', 'seesaw_before',
                                      'seesaw_rfs_before', 'deconfound_before',
                                      'deconfound_rfs_before'])
def test_first_version_training_is_its_training_with_the_first_version_settings(longtail,
                                                                               training):
    """Only the widths and the RoI count the speed-up changed differ from the shipped run."""
    shipped_name = training[:-len('_before')]
    shipped = longtail.run_config(shipped_name, 16, 0).to_dict()
    control = longtail.run_config(training, 16, 0).to_dict()
    roi_head, rcnn = control['model']['roi_head'], control['model']['train_cfg']['rcnn']
    assert control['model']['neck']['out_channels'] == 128
    assert [h['fc_out_channels'] for h in roi_head['bbox_head']] == [512] * 3
    assert [h['in_channels'] for h in roi_head['bbox_head']] == [128] * 3
    assert roi_head['mask_head']['conv_out_channels'] == 128
    assert [stage['sampler']['num'] for stage in rcnn] == [128] * 3
    for path, value in longtail.first_version_settings()[1].items():
        *parents, leaf = path.split('.')
        node = shipped
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        node[leaf] = value
    assert shipped == control
    # The same evaluations, under rows of their own; neither table holds the other's trainings.
    rows = longtail.TRAININGS[training]['rows']
    assert rows == {f'{row}_before': how
                    for row, how in longtail.TRAININGS[shipped_name]['rows'].items()}
    assert training in longtail.TABLES['first_version']['trainings']
    assert training not in longtail.TABLE_TRAININGS
    assert set(longtail.SPEED_CONTROLS) <= set(longtail.TABLES['first_version']['trainings'])


def test_trainings_outside_the_chosen_table_are_refused(longtail, monkeypatch, capsys):
    monkeypatch.setattr('sys.argv', ['longtail_minilvis.py', '--settings', 'first_version',
                                     '--trainings', 'seesaw_before', 'seesaw'])
    with pytest.raises(SystemExit):
        longtail.parse_args()
    error = capsys.readouterr().err
    assert "--trainings: seesaw not in the 'first_version' table" in error
    assert 'seesaw_rfs_before' in error  # the allowed ones are named
    monkeypatch.setattr('sys.argv', ['longtail_minilvis.py', '--settings', 'first_version'])
    args = longtail.parse_args()
    assert args.trainings == longtail.TABLES['first_version']['trainings']
    assert args.out == 'docs/benchmarks/longtail_minilvis_first_version.md'


def test_settings_table_is_each_gain_under_both_settings(longtail):
    rng = np.random.default_rng(5)
    rows = ('baseline', 'seesaw', 'baseline_before', 'seesaw_before')
    table = {row: {seed: random_metrics(longtail, rng) for seed in (0, 1, 2)} for row in rows}
    del table['seesaw_before'][1]  # only the seeds all four rows have are compared
    seeds, cells = cells_of(longtail.settings_table(table), longtail.ROW_LABELS['seesaw'])
    assert seeds == 2 and len(cells) == 8
    for i, key in enumerate(('segm_AP', 'segm_APr', 'bbox_AP', 'bbox_APr')):
        for cell, (method, baseline) in zip(cells[2 * i:2 * i + 2],
                                            (('seesaw', 'baseline'),
                                             ('seesaw_before', 'baseline_before'))):
            diffs = np.array([table[method][s][key] - table[baseline][s][key] for s in (0, 2)],
                             dtype=np.float64) * 100
            mean, std, gains = re.fullmatch(r'(-?[\d.]+) ± ([\d.]+) \((\d)/2\)', cell).groups()
            assert float(mean) == pytest.approx(diffs.mean(), abs=0.051)
            assert float(std) == pytest.approx(diffs.std(ddof=1), abs=0.051)
            assert int(gains) == int((diffs > 0).sum())
    del table['baseline_before']
    assert longtail.settings_table(table) is None  # nothing to compare under both


def test_curve_reports_the_speed_controls_against_the_shipped_trainings(longtail, tmp_path):
    rng = np.random.default_rng(4)
    runs_dir = tmp_path / 'runs'
    runs_dir.mkdir()
    names = ('baseline', 'rfs', 'baseline_before', 'rfs_before')
    metrics = {t: random_metrics(longtail, rng) for t in names}
    seconds = dict(baseline=600, rfs=660, baseline_before=1500, rfs_before=1650)
    args = argparse.Namespace(runs_dir=str(runs_dir), seeds=[0, 1])
    for name in names[:3]:
        write_run(longtail, runs_dir, name, 16, 0, {name: metrics[name]},
                  train_seconds=seconds[name])
    assert longtail.speed_control(args, 'rfs_before', 16) is None  # the control has not run
    write_run(longtail, runs_dir, 'rfs_before', 16, 0, {'rfs_before': metrics['rfs_before']},
              train_seconds=1650)
    for control, shipped_name in longtail.SPEED_CONTROLS.items():
        line, text = longtail.speed_control(args, control, 16)
        assert line.startswith(f'| {longtail.ROW_LABELS[control]} | 16 | 1824 | '
                               f'{seconds[control]} |')
        assert 'in 0.40x the time' in text
        shipped, before = (100 * metrics[t]['segm_AP'] for t in (shipped_name, control))
        assert f'mask AP {shipped:.1f} against {before:.1f}' in text
    # A training resumed from checkpoints is not timed: no time ratio is quoted for it.
    write_run(longtail, runs_dir, 'rfs_before', 16, 0, {'rfs_before': metrics['rfs_before']},
              train_seconds=None)
    line, text = longtail.speed_control(args, 'rfs_before', 16)
    assert line.startswith(f"| {longtail.ROW_LABELS['rfs_before']} | 16 | 1824 | - |")
    assert 'x the time' not in text and 'was not timed' in text


def test_dual_phase_runs_phase1_on_the_schedule_and_phase2_on_its_own(longtail):
    """Phase I trains the iterations of every row; phase II keeps its config's schedule; the
    joint-training control's phase I is the baseline's run itself."""
    phase1, phase2 = longtail.run_configs('dual_phase', 8, 1)
    assert phase1.train_cfg.max_iters == 8 * longtail.ITERS_PER_EPOCH
    assert phase1.randomness.seed == phase2.randomness.seed == 1
    shipped = longtail.Config.fromfile(
        str(longtail.osp.join(longtail.REPO, 'configs/minilvis', longtail.DUAL_PHASE_CONFIGS[1])))
    assert phase2.train_cfg == shipped.train_cfg
    assert phase2.param_scheduler == shipped.param_scheduler
    joint_phase1, joint_phase2 = longtail.run_configs('joint_then_phase2', 8, 1)
    assert joint_phase1.to_dict() == longtail.run_config('baseline', 8, 1).to_dict()
    assert joint_phase2.to_dict() == phase2.to_dict()
    no_graph = longtail.run_configs('dual_phase_no_graph', 8, 1)[1]
    assert no_graph.model.roi_head.graph_loss_weight == 0
    assert phase2.model.roi_head.graph_loss_weight is None  # the split's lambda
    digests = {t: longtail.run_digest(t, 8, 1) for t in (
        'dual_phase', 'dual_phase_no_graph', 'joint_then_phase2', 'joint_then_phase2_no_graph')}
    assert len(set(digests.values())) == 4
    args = argparse.Namespace(work_dir='work')
    assert (longtail.phase1_work_dir('dual_phase', 8, 1, args)
            == longtail.phase1_work_dir('dual_phase_no_graph', 8, 1, args))
    assert longtail.phase1_work_dir('joint_then_phase2', 8, 1, args).endswith(
        longtail.run_name('baseline', 8, 1))


# Each graph-variant training: the training it varies and the RoI-head options its phase II
# adds, written out here (the temperature was chosen before any run).
VARIANTS = {
    'dual_phase_graph_t': ('dual_phase', dict(graph_temperature=0.05)),
    'dual_phase_graph_t_norm': ('dual_phase', dict(graph_temperature=0.05, graph_normalize=True)),
    'dual_phase_graph_t_norm_ignored': ('dual_phase', dict(
        graph_temperature=0.05, graph_normalize=True, graph_nodes='labelled_and_ignored')),
    'dual_phase_distill': ('dual_phase', dict(graph_loss_form='distill')),
    'joint_then_phase2_graph_t': ('joint_then_phase2', dict(graph_temperature=0.05)),
    'joint_then_phase2_graph_t_norm': ('joint_then_phase2',
                                       dict(graph_temperature=0.05, graph_normalize=True)),
    'dual_phase_tde_no_graph': ('dual_phase_tde', dict(graph_loss_weight=0.0)),
    'dual_phase_tde_graph_t_norm_ignored': ('dual_phase_tde', dict(
        graph_temperature=0.05, graph_normalize=True, graph_nodes='labelled_and_ignored')),
}


def roi_head_values(phase2, keys):
    """The resolved phase-II RoI head's values of ``keys`` (the RoI head's defaults when unset)."""
    from mmdet_tde.models.roi_heads.dual_phase_roi_head import DualPhaseRoIHeadMixin
    defaults = inspect.signature(DualPhaseRoIHeadMixin.__init__).parameters
    roi_head = phase2['model']['roi_head']
    return {k: roi_head.get(k, defaults[k].default) for k in keys}


def test_graph_variants_change_only_their_phase2_options(longtail):
    """Each variant's phase I is its plain training's (the same run and memory); its resolved
    phase-II config is the plain one with exactly its RoI-head options, which the plain one
    does not have; its digest is its own."""
    args = argparse.Namespace(work_dir='work')
    assert set(VARIANTS) <= set(longtail.TABLE_TRAININGS)
    digests = {}
    for training, (plain, options) in VARIANTS.items():
        phase1, phase2 = (cfg.to_dict() for cfg in longtail.run_configs(training, 8, 1))
        plain_phase1, plain_phase2 = (cfg.to_dict() for cfg in longtail.run_configs(plain, 8, 1))
        assert phase1 == plain_phase1, training
        assert (longtail.phase1_work_dir(training, 8, 1, args)
                == longtail.phase1_work_dir(plain, 8, 1, args))
        assert roi_head_values(phase2, options) == options, training
        plain_values = roi_head_values(plain_phase2, options)
        assert all(plain_values[k] != v for k, v in options.items()), training
        plain_phase2['model']['roi_head'].update(options)
        assert phase2 == plain_phase2, training
        assert set(longtail.TRAININGS[training]['rows']) <= set(longtail.ROW_LABELS)
        digests[training] = longtail.run_digest(training, 8, 1)
        assert digests[training] != longtail.run_digest(plain, 8, 1), training
    assert len(set(digests.values())) == len(VARIANTS)


def test_digest_covers_what_changes_a_run_only(longtail):
    digests = {longtail.config_digest(longtail.run_config(t, e, s))
               for t in ('baseline', 'rfs') for e in (4, 8) for s in (0, 1)}
    assert len(digests) == 8  # a seed, a length or a recipe is a different run
    cfg = longtail.run_config('baseline', 4, 0)
    digest = longtail.config_digest(cfg)
    cfg.some_base_variable = dict(type='Unused')  # what a layout change adds at the top level
    assert longtail.config_digest(cfg) == digest
    cfg.model.roi_head.mask_head.conv_out_channels += 1
    assert longtail.config_digest(cfg) != digest


def test_joint_training_runs_from_fresh_rows_are_stale(longtail):
    """The joint-training control now keeps the classifier rows it learned: its runs' digests
    differ from the ones over its configs alone, which the runs that re-initialised them had."""
    def configs_only(training):
        digests = [longtail.config_digest(c) for c in longtail.run_configs(training, 16, 0)]
        return longtail.hashlib.sha256(' '.join(digests).encode()).hexdigest()[:16]

    assert longtail.run_digest('joint_then_phase2', 16, 0) != configs_only('joint_then_phase2')
    assert longtail.run_digest('dual_phase', 16, 0) == configs_only('dual_phase')
    assert longtail.reuses_training('joint_then_phase2_graph_t')
    assert not longtail.reuses_training('dual_phase') and not longtail.reuses_training('rfs')


def test_digest_keeps_runs_whose_configs_left_the_later_options_out(longtail):
    """A phase-II config that writes out graph_nodes and head_direction at the values the RoI
    head took when they were left out has the digest of the config without them."""
    phase2 = longtail.run_configs('dual_phase', 8, 1)[1]
    roi_head = phase2.model.roi_head
    written = {k: roi_head.pop(k) for k in longtail.UNWRITTEN_ROI_HEAD_OPTIONS if k in roi_head}
    assert written == {k: v for k, v in longtail.UNWRITTEN_ROI_HEAD_OPTIONS.items()
                       if k in written} and written
    left_out = longtail.config_digest(phase2)
    roi_head.update(longtail.UNWRITTEN_ROI_HEAD_OPTIONS)
    assert longtail.config_digest(phase2) == left_out
    for key, other in (('graph_nodes', 'labelled_and_ignored'), ('head_direction', 'keep_phase1')):
        roi_head[key] = other
        assert longtail.config_digest(phase2) != left_out, key
        roi_head[key] = longtail.UNWRITTEN_ROI_HEAD_OPTIONS[key]


def test_rows_of_one_checkpoint_share_evaluation_passes(longtail):
    passes = longtail.evaluation_passes(longtail.TRAININGS['deconfound']['rows'])
    assert passes == {('alpha',): [('deconfound', 0.0), ('deconfound_tde', 1.5)],
                      ('tau', 'exempted'): [('deconfound_la', 1.0)],
                      ('tau', 'plain'): [('deconfound_la_plain', 1.0)]}
    passes = longtail.evaluation_passes(longtail.TRAININGS['baseline']['rows'])
    assert passes[('tau', 'exempted')] == [('baseline', 0.0), ('baseline_la', 1.0)]
    assert longtail.evaluation_passes({'seesaw': ('test',)}) == {('test',): [('seesaw', None)]}


def test_phase1_direction_row_is_the_same_checkpoint_with_phase1_directions(longtail,
                                                                            tmp_path):
    """The keep_phase1 row: a pass of its own on the dual-phase TDE checkpoint, whose every
    head_direction (and nothing else) is phase I's."""
    import torch
    passes = longtail.evaluation_passes(longtail.TRAININGS['dual_phase_tde']['rows'])
    assert passes[('alpha', 'phase1_direction')] == [('dual_phase_tde_phase1_direction', 1.5)]
    assert passes[('alpha',)] == [('dual_phase_deconfound', 0.0), ('dual_phase_tde', 1.5)]
    names = [f'roi_head.bbox_head.{i}.fc_cls.{k}' for i in range(3)
             for k in ('weight', 'head_direction')]
    phase2 = {k: torch.randn(8) for k in names}
    phase1 = {k: torch.randn(8) for k in names}
    torch.save(dict(state_dict=phase2, meta=dict(epoch=3)), tmp_path / 'phase2.pth')
    torch.save(dict(state_dict=phase1), tmp_path / 'phase1.pth')
    out = longtail.with_phase1_head_direction(str(tmp_path / 'phase2.pth'),
                                              str(tmp_path / 'phase1.pth'),
                                              str(tmp_path / 'swapped.pth'))
    swapped = torch.load(out, weights_only=True)
    assert swapped['meta'] == dict(epoch=3)
    for name in names:
        source = phase1 if name.endswith('head_direction') else phase2
        assert torch.equal(swapped['state_dict'][name], source[name]), name
    del phase1[names[1]]
    torch.save(dict(state_dict=phase1), tmp_path / 'phase1.pth')
    with pytest.raises(ValueError, match='head directions'):
        longtail.with_phase1_head_direction(str(tmp_path / 'phase2.pth'),
                                            str(tmp_path / 'phase1.pth'),
                                            str(tmp_path / 'swapped.pth'))


def test_converged_length_is_the_shortest_within_tolerance_of_the_longest(longtail):
    within = longtail.CONVERGED_WITHIN
    curve = {'baseline': {4: 0.50, 8: 0.71 - within / 2, 12: 0.70 + within / 2, 16: 0.71},
             'rfs': {4: 0.55, 8: 0.75 - 2 * within, 12: 0.75 - within / 2, 16: 0.75}}
    assert longtail.converged_epochs(curve) == 12
    curve['rfs'][8] = 0.75 - within / 2
    assert longtail.converged_epochs(curve) == 8
    del curve['rfs'][16]
    assert longtail.converged_epochs(curve) is None  # the longest is missing


def test_report_counts_current_runs_and_lists_stale_ones(longtail, tmp_path):
    rng = np.random.default_rng(2)
    runs_dir = tmp_path / 'runs'
    runs_dir.mkdir()
    for seed in (0, 1):
        write_run(longtail, runs_dir, 'baseline', 8, seed,
                  {'baseline': random_metrics(longtail, rng)})
    write_run(longtail, runs_dir, 'rfs', 8, 0, {'rfs': random_metrics(longtail, rng)},
              digest='0123456789abcdef')  # trained with an older config
    write_run(longtail, runs_dir, 'rfs', 4, 0, {'rfs': random_metrics(longtail, rng)})
    table, stale, records = longtail.load_runs(str(runs_dir), longtail.TRAININGS, [8], [0, 1])
    assert set(table) == {('baseline', 8)} and set(table[('baseline', 8)]) == {0, 1}
    assert stale == ['rfs_8e_seed0.json'] and len(records) == 2

    args = argparse.Namespace(seeds=[0, 1], runs_dir=str(runs_dir), nproc=2,
                              out=str(tmp_path / 'longtail.md'), settings='shipped')
    longtail.write_report(args, 8)
    page = (tmp_path / 'longtail.md').read_text()
    assert f'Finished trainings: 2 of {2 * len(longtail.TABLE_TRAININGS)}' in page
    assert 'Left out, trained with an older config: rfs_8e_seed0.json' in page
    assert cells_of(page, longtail.ROW_LABELS['baseline'])[0] == 2
    assert 'rfs_4e' not in page  # another schedule is never mixed in
    assert (tmp_path / 'longtail.png').stat().st_size > 0


def test_first_version_page_holds_its_own_rows_and_both_gains(longtail, tmp_path):
    rng = np.random.default_rng(6)
    runs_dir = tmp_path / 'runs'
    runs_dir.mkdir()
    metrics = {}
    for training in ('baseline', 'rfs', 'baseline_before', 'rfs_before'):
        for seed in (0, 1):
            metrics[training, seed] = random_metrics(longtail, rng)
            write_run(longtail, runs_dir, training, 16, seed,
                      {training: metrics[training, seed]})
    out = tmp_path / 'first_version.md'
    args = argparse.Namespace(seeds=[0, 1], runs_dir=str(runs_dir), nproc=2, out=str(out),
                              settings='first_version')
    longtail.write_report(args, 16)
    page = out.read_text()
    n = len(longtail.TABLES['first_version']['trainings'])
    assert f'Finished trainings: 4 of {2 * n}' in page
    assert '--settings first_version --seeds 0 1' in page
    assert f"| {longtail.ROW_LABELS['baseline']} |" not in page  # the shipped rows stay out
    results = page.split('\n\n')[4]
    assert cells_of(results, longtail.ROW_LABELS['rfs_before'])[0] == 2
    _, cells = cells_of(page, longtail.ROW_LABELS['rfs'])  # the settings table's row
    for cell, (method, baseline) in zip(cells[:2], (('rfs', 'baseline'),
                                                    ('rfs_before', 'baseline_before'))):
        gain = np.mean([metrics[method, s]['segm_AP'] - metrics[baseline, s]['segm_AP']
                        for s in (0, 1)]) * 100
        assert float(cell.split(' ± ')[0]) == pytest.approx(gain, abs=0.051)


def test_a_dual_phase_training_on_a_phase1_trained_earlier_is_not_timed(longtail, monkeypatch,
                                                                          tmp_path):
    """Its time would leave phase I out: the run records none, as a resumed training does."""
    args = argparse.Namespace(runs_dir=str(tmp_path / 'runs'), work_dir=str(tmp_path / 'work'),
                              nproc=2)
    (tmp_path / 'runs').mkdir()
    phase1_dir = longtail.phase1_work_dir('dual_phase', 16, 0, args)
    longtail.os.makedirs(phase1_dir)
    monkeypatch.setattr(longtail, 'train_dual_phase', lambda *a: ('c.py', 'c.pth', 'p1.pth'))
    monkeypatch.setattr(longtail, 'evaluate', lambda rows, *a: {r: {} for r in rows})
    for finished_phase1, seconds in ((False, 0), (True, None)):
        if finished_phase1:
            (pathlib.Path(phase1_dir) / 'last_checkpoint').write_text('iter_1824.pth')
        longtail.train_and_evaluate('dual_phase', 16, 0, args)
        record = json.loads((tmp_path / 'runs' / 'dual_phase_16e_seed0.json').read_text())
        assert record['train_seconds'] == seconds
        (tmp_path / 'runs' / 'dual_phase_16e_seed0.json').unlink()


def test_work_dir_of_another_config_is_moved_aside_not_reused(longtail, monkeypatch, tmp_path):
    commands = []
    monkeypatch.setattr(longtail, 'run', lambda cmd, port: commands.append(cmd))
    args = argparse.Namespace(nproc=2, port=0)
    cfg = longtail.run_config('baseline', 4, 0)
    work_dir = tmp_path / 'baseline_4e_seed0'
    final = work_dir / f'iter_{cfg.train_cfg.max_iters}.pth'
    work_dir.mkdir()
    final.write_text('the checkpoint')
    cfg.dump(str(work_dir / 'config.py'))
    assert longtail.train(cfg, str(work_dir), args) == (str(work_dir / 'config.py'), str(final))
    assert commands == []  # the same config: its checkpoint is reused
    other = longtail.run_config('baseline', 4, 0)
    other.model.roi_head.mask_head.conv_out_channels += 1
    longtail.train(other, str(work_dir), args)
    assert len(commands) == 1 and '--resume' not in commands[0]  # trained from scratch
    stale = tmp_path / f'baseline_4e_seed0.stale-{longtail.config_digest(cfg)}'
    assert (stale / final.name).read_text() == 'the checkpoint'
    assert longtail.config_digest(longtail.Config.fromfile(str(work_dir / 'config.py'))) == \
        longtail.config_digest(other)


def test_dual_phase_trainings_get_the_split_their_configs_read(longtail, monkeypatch):
    commands = []
    monkeypatch.setattr(longtail, 'run', lambda cmd, port: commands.append(cmd[1:]))
    args = argparse.Namespace(port=0)
    longtail.prepare_data(['baseline', 'rfs'], args)
    assert commands == [['tools/make_minilvis.py', '--out', 'data/minilvis']]
    commands.clear()
    longtail.prepare_data(['baseline', 'joint_then_phase2'], args)
    split = longtail.Config.fromfile(str(longtail.osp.join(
        longtail.REPO, 'configs/minilvis', longtail.DUAL_PHASE_CONFIGS[0]))).dual_phase_split
    assert commands[1] == ['tools/dual_phase_split.py',
                           'data/minilvis/annotations/minilvis_v1_train.json', '--out', split]
    assert longtail.SPLIT == split
