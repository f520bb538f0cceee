"""Long-tail comparison on mini-LVIS: TDE and dual-phase against what users would pick instead.

The same detector (the mini-LVIS Cascade Mask R-CNN) and schedule, trained once per method and
seed through tools/dist_train.sh, evaluated with tools/dist_test.sh (de-confound models: one pass
of tools/dist_sweep_alpha.sh gives alpha 0, the de-confounded softmax, and the TDE alpha).

Rows: the linear baseline; repeat-factor sampling (mmdet's ClassBalancedDataset) and, as its
control, the baseline trained for as many iterations; mmdet's Seesaw
loss with and without repeat-factor sampling; de-confound and de-confound-TDE; dual-phase with the
linear and with the TDE heads (phase I, tools/dual_phase_prepare.py, phase II); and the controls
a dual-phase gain must beat: joint training (the baseline) followed by the same phase II,
dual-phase without the graph loss, and without the exemplar memory.

Each finished training writes a small JSON under --runs-dir (metrics, seed, config digest,
commit, times); the table, the paired differences and the plot are rebuilt from all of them, so
runs can accumulate over several working periods. A run whose config no longer matches the
current one (its digest) is listed as stale and left out of the table.

    python benchmarks/longtail_minilvis.py --seeds 0 1 2          # train what is missing
    python benchmarks/longtail_minilvis.py --seeds 0 1 2 --rebuild  # table from finished runs
"""
import argparse
import datetime
import hashlib
import json
import os
import os.path as osp
import subprocess
import sys
import time

import numpy as np
from mmengine.config import Config

from mmdet_tde.fileio import atomic_open, atomic_path, write_json_atomic

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = 'configs/minilvis'
METRICS = ('bbox_AP', 'bbox_APr', 'bbox_APc', 'bbox_APf',
           'segm_AP', 'segm_APr', 'segm_APc', 'segm_APf')

# training name -> its recipe. rows: {table row: alpha of the sweep, or None for a plain test}.
# A dual-phase training runs phase I (or reuses another training as phase I: the "joint training"
# control), tools/dual_phase_prepare.py, then phase II.
TRAININGS = {
    'baseline': dict(config='cascade_baseline_r18_minilvis.py', rows={'baseline': None}),
    'rfs': dict(config='cascade_rfs_r18_minilvis.py', rows={'rfs': None}),
    # Repeat-factor sampling keeps the epochs, so it trains 1.9x the iterations (857 images an
    # epoch instead of 455): the baseline with as many iterations (8 epochs, lr step at 6 as at
    # 3 of 4) tells sampling from longer training.
    'baseline_8e': dict(config='cascade_baseline_r18_minilvis.py',
                        options={'train_cfg.max_epochs': 8, 'train_cfg.val_begin': 9,
                                 'param_scheduler.1.end': 8, 'param_scheduler.1.milestones': [6]},
                        rows={'baseline_8e': None}),
    'deconfound': dict(config='cascade_tde_r18_minilvis.py',
                       rows={'deconfound': 0.0, 'deconfound_tde': 1.5}),
    'seesaw_rfs': dict(config='cascade_seesaw_rfs_r18_minilvis.py', rows={'seesaw_rfs': None}),
    'seesaw': dict(config='cascade_seesaw_r18_minilvis.py', rows={'seesaw': None}),
    'dual_phase': dict(phase1='dual_phase/cascade_phase1_r18_minilvis.py',
                       phase2='dual_phase/cascade_phase2_r18_minilvis.py',
                       rows={'dual_phase': None}),
    'dual_phase_tde': dict(phase1='dual_phase/cascade_tde_phase1_r18_minilvis.py',
                           phase2='dual_phase/cascade_tde_phase2_r18_minilvis.py',
                           rows={'dual_phase_deconfound': 0.0, 'dual_phase_tde': 1.5}),
    'joint_then_phase2': dict(phase1='baseline', phase2='dual_phase/cascade_phase2_r18_minilvis.py',
                              rows={'joint_then_phase2': None}),
    # The no-graph gain is dual-phase's only if joint training does not get it too.
    'joint_then_phase2_no_graph': dict(phase1='baseline',
                                       phase2='dual_phase/cascade_phase2_r18_minilvis.py',
                                       phase2_options={'model.roi_head.graph_loss_weight': 0.0},
                                       rows={'joint_then_phase2_no_graph': None}),
    'dual_phase_no_graph': dict(phase1='dual_phase/cascade_phase1_r18_minilvis.py',
                                phase2='dual_phase/cascade_phase2_r18_minilvis.py',
                                phase2_options={'model.roi_head.graph_loss_weight': 0.0},
                                rows={'dual_phase_no_graph': None}),
    'dual_phase_no_memory': dict(phase1='dual_phase/cascade_phase1_r18_minilvis.py',
                                 phase2='dual_phase/cascade_phase2_r18_minilvis.py',
                                 empty_memory=True, rows={'dual_phase_no_memory': None}),
}
ROW_LABELS = {
    'baseline': 'linear baseline',
    'rfs': 'repeat-factor sampling',
    'baseline_8e': 'control: linear baseline, 8 epochs (the iterations of RFS)',
    'seesaw': 'Seesaw loss',
    'seesaw_rfs': 'Seesaw loss + repeat-factor sampling',
    'deconfound': 'de-confound (TDE off)',
    'deconfound_tde': 'de-confound-TDE (alpha 1.5)',
    'dual_phase': 'dual-phase (linear)',
    'dual_phase_deconfound': 'dual-phase, de-confound heads (TDE off)',
    'dual_phase_tde': 'dual-phase, de-confound-TDE (alpha 1.5)',
    'joint_then_phase2': 'control: joint training, then the same phase II',
    'joint_then_phase2_no_graph': 'control: joint training, then phase II without the graph loss',
    'dual_phase_no_graph': 'control: dual-phase without the graph loss',
    'dual_phase_no_memory': 'control: dual-phase without the memory',
}
SPLIT = 'data/minilvis/dual_phase_split.json'
REFERENCES = ('baseline', 'rfs')


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--trainings', nargs='+', default=list(TRAININGS),
                        choices=list(TRAININGS), help='which trainings to run (default: all)')
    parser.add_argument('--nproc', type=int, default=2)
    parser.add_argument('--port', type=int, default=29613,
                        help='master port of the distributed runs')
    parser.add_argument('--work-dir', default='work_dirs/longtail_minilvis')
    parser.add_argument('--runs-dir', default='docs/benchmarks/runs/longtail_minilvis',
                        help='one JSON per finished training (commit them)')
    parser.add_argument('--out', default='docs/benchmarks/longtail_minilvis.md')
    parser.add_argument('--rebuild', action='store_true',
                        help='only rebuild the table and plot from the finished runs')
    return parser.parse_args()


def run(cmd, port):
    print('[longtail] ' + ' '.join(cmd), flush=True)
    env = dict(os.environ, OMP_NUM_THREADS='1', PORT=str(port))
    subprocess.run(cmd, cwd=REPO, check=True, env=env)


def seeded_config(path, seed):
    """A shipped config with the seed set."""
    cfg = Config.fromfile(osp.join(REPO, CONFIGS, path))
    cfg.randomness = dict(seed=seed, deterministic=False)
    return cfg


def run_configs(training, seed):
    """The configs a training runs, in order (a dual-phase one: phase I, then phase II)."""
    recipe = TRAININGS[training]
    if 'config' in recipe:
        cfg = seeded_config(recipe['config'], seed)
        cfg.merge_from_dict(recipe.get('options', {}))
        return [cfg]
    phase1 = recipe['phase1']
    phase1 = run_configs(phase1, seed)[0] if phase1 in TRAININGS else seeded_config(phase1, seed)
    phase2 = seeded_config(recipe['phase2'], seed)
    phase2.merge_from_dict(recipe.get('phase2_options', {}))
    if recipe.get('empty_memory'):
        phase2.train_dataloader.dataset.memory_file = 'empty'
    return [phase1, phase2]


def config_digest(cfgs):
    text = '\n'.join(cfg.pretty_text for cfg in cfgs)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def git_commit():
    out = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=REPO, capture_output=True,
                         text=True)
    return out.stdout.strip() or 'unknown'


def latest_test_metrics(test_dir):
    runs = sorted(d for d in os.listdir(test_dir) if d[:8].isdigit())
    with open(osp.join(test_dir, runs[-1], runs[-1] + '.json')) as f:
        return json.load(f)


def evaluate(rows, config, checkpoint, work_dir, args):
    """Metrics of each table row of one trained model."""
    if list(rows.values()) == [None]:
        test_dir = osp.join(work_dir, 'test')
        run(['bash', 'tools/dist_test.sh', config, checkpoint, str(args.nproc),
             '--work-dir', test_dir], args.port)
        return {next(iter(rows)): latest_test_metrics(test_dir)}
    sweep_dir = osp.join(work_dir, 'sweep')
    run(['bash', 'tools/dist_sweep_alpha.sh', config, checkpoint, str(args.nproc),
         '--alphas', *map(str, rows.values()), '--work-dir', sweep_dir], args.port)
    with open(osp.join(sweep_dir, 'alpha_sweep.json')) as f:
        sweep = json.load(f)
    return {row: metrics for row, metrics in zip(rows, sweep['metrics'])}


def train(cfg, work_dir, args):
    """Train ``cfg`` in ``work_dir`` unless its last epoch's checkpoint is there (an interrupted
    training resumes from its latest checkpoint); its config and checkpoint."""
    os.makedirs(work_dir, exist_ok=True)
    config = osp.join(work_dir, 'config.py')
    cfg.dump(config)
    final = osp.join(work_dir, f'epoch_{cfg.train_cfg.max_epochs}.pth')
    if not osp.isfile(final):
        resume = ['--resume'] if osp.isfile(osp.join(work_dir, 'last_checkpoint')) else []
        run(['bash', 'tools/dist_train.sh', config, str(args.nproc), '--work-dir', work_dir,
             *resume], args.port)
    return config, open(osp.join(work_dir, 'last_checkpoint')).read().strip()


def phase1_work_dir(training, seed, args):
    """Dual-phase trainings with the same phase I share its training and memory."""
    phase1 = TRAININGS[training]['phase1']
    name = phase1 if phase1 in TRAININGS else 'phase1_' + osp.splitext(osp.basename(phase1))[0]
    return osp.abspath(osp.join(args.work_dir, f'{name}_seed{seed}'))


def train_dual_phase(training, seed, cfgs, work_dir, args):
    """Phase I (or the training it reuses), the memory, phase II: phase II's config, checkpoint."""
    recipe = TRAININGS[training]
    phase1_cfg, phase2_cfg = cfgs
    phase1_dir = phase1_work_dir(training, seed, args)
    phase1_config, phase1_checkpoint = train(phase1_cfg, phase1_dir, args)
    memory_dir = osp.join(phase1_dir, 'dual_phase')
    if not osp.isfile(osp.join(memory_dir, 'dual_phase_phase2_init.pth')):
        run(['bash', 'tools/dist_dual_phase_prepare.sh', phase1_config, phase1_checkpoint,
             str(args.nproc), '--split-file', SPLIT, '--out-dir', memory_dir], args.port)
    memory = osp.join(memory_dir, 'dual_phase_memory.json')
    if recipe.get('empty_memory'):
        with open(memory) as f:
            prepared = json.load(f)
        memory = osp.join(work_dir, 'empty_memory.json')
        write_json_atomic(dict(prepared, exemplars={}), memory)
    phase2_cfg.model.update(teacher_config=phase1_config, teacher_checkpoint=phase1_checkpoint)
    phase2_cfg.train_dataloader.dataset.memory_file = memory
    phase2_cfg.load_from = osp.join(memory_dir, 'dual_phase_phase2_init.pth')
    return train(phase2_cfg, work_dir, args)


def train_and_evaluate(training, seed, args):
    """Train one (method, seed) unless its run JSON exists; write the run JSON."""
    run_path = osp.join(args.runs_dir, f'{training}_seed{seed}.json')
    cfgs = run_configs(training, seed)
    digest = config_digest(cfgs)
    if osp.isfile(run_path) and json.load(open(run_path))['config_digest'] == digest:
        print(f'[longtail] {training} seed {seed}: finished earlier ({run_path})', flush=True)
        return
    work_dir = osp.abspath(osp.join(args.work_dir, f'{training}_seed{seed}'))
    start = time.time()
    if len(cfgs) == 1:
        config, checkpoint = train(cfgs[0], work_dir, args)
    else:
        config, checkpoint = train_dual_phase(training, seed, cfgs, work_dir, args)
    train_s = time.time() - start
    start = time.time()
    recipe = TRAININGS[training]
    results = evaluate(recipe['rows'], config, checkpoint, work_dir, args)
    configs = [recipe[k] for k in ('config', 'phase1', 'phase2') if k in recipe]
    record = dict(training=training, seed=seed, configs=configs,
                  config_digest=digest, commit=git_commit(), nproc=args.nproc,
                  train_seconds=round(train_s), eval_seconds=round(time.time() - start),
                  finished=datetime.datetime.now(datetime.timezone.utc).isoformat(
                      timespec='seconds'),
                  results={row: {k.split('/')[-1]: v for k, v in m.items() if '/' in k}
                           for row, m in results.items()})
    write_json_atomic(record, run_path, sort_keys=True)
    print(f'[longtail] {training} seed {seed}: done in {train_s:.0f} s training, '
          f'{record["eval_seconds"]} s evaluation -> {run_path}', flush=True)


def load_runs(args):
    """{row: {seed: metrics}} of the runs whose config matches the current one, and the stale."""
    table, stale = {}, []
    for training in TRAININGS:
        for seed in args.seeds:
            path = osp.join(args.runs_dir, f'{training}_seed{seed}.json')
            if not osp.isfile(path):
                continue
            record = json.load(open(path))
            if record['config_digest'] != config_digest(run_configs(training, seed)):
                stale.append(osp.basename(path))
                continue
            for row, metrics in record['results'].items():
                table.setdefault(row, {})[seed] = metrics
    return table, stale


def mean_std(values):
    values = np.asarray(values) * 100
    spread = f' ± {values.std(ddof=1):.1f}' if len(values) > 1 else ''
    return f'{values.mean():.1f}{spread}'


def results_table(table):
    lines = ['| method | seeds | ' + ' | '.join(METRICS) + ' |',
             '|---|---|' + '---|' * len(METRICS)]
    for row in ROW_LABELS:
        if row in table:
            per_seed = table[row]
            cells = [mean_std([m[key] for m in per_seed.values()]) for key in METRICS]
            lines.append(f'| {ROW_LABELS[row]} | {len(per_seed)} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def paired_table(table, reference):
    """Per-seed differences to ``reference`` (same seed): mean ± std, and seeds with a gain."""
    lines = [f'| method - {ROW_LABELS[reference]} | seeds | ' + ' | '.join(METRICS) + ' |',
             '|---|---|' + '---|' * len(METRICS)]
    for row in ROW_LABELS:
        if row == reference or row not in table or reference not in table:
            continue
        seeds = sorted(set(table[row]) & set(table[reference]))
        if not seeds:
            continue
        cells = []
        for key in METRICS:
            diffs = [table[row][s][key] - table[reference][s][key] for s in seeds]
            cells.append(f'{mean_std(diffs)} ({sum(d > 0 for d in diffs)}/{len(seeds)})')
        lines.append(f'| {ROW_LABELS[row]} | {len(seeds)} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines) if len(lines) > 2 else None


def plot(table, path):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    rows = [r for r in ROW_LABELS if r in table]
    keys = ('segm_AP', 'segm_APr', 'segm_APc', 'segm_APf')
    x = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(rows)), 4.2))
    for i, key in enumerate(keys):
        values = [np.array([m[key] for m in table[r].values()]) * 100 for r in rows]
        spread = [v.std(ddof=1) if len(v) > 1 else 0.0 for v in values]
        ax.bar(x + (i - 1.5) * 0.2, [v.mean() for v in values], width=0.2, label=key,
               yerr=spread if any(spread) else None, capsize=2)
    ax.set_xticks(x, [ROW_LABELS[r] for r in rows], rotation=25, ha='right')
    ax.set_ylim(30, 85)  # the differences are a few points; the axis starts at 30
    ax.set_ylabel('mask AP x 100 (mean ± std over seeds)')
    ax.set_title('mini-LVIS: long-tail methods, same detector and schedule')
    ax.legend(ncol=4, loc='upper left', fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120)
    plt.close(fig)


def write_report(args):
    table, stale = load_runs(args)
    if not table:
        print('[longtail] no finished runs yet')
        return
    sections = ['# Long-tail methods on mini-LVIS',
                'Reproduce (runs accumulate; finished ones are reused): '
                f'`python benchmarks/longtail_minilvis.py --seeds {" ".join(map(str, args.seeds))}`'
                f'. Each training: {args.nproc} CPU processes, the config\'s schedule, the seed '
                'in `randomness` (`deterministic=False`). Values '
                'are AP x 100, mean ± std over seeds. Readings: '
                '[README.md](README.md#long-tail-methods-on-mini-lvis).',
                results_table(table)]
    for reference in REFERENCES:
        paired = paired_table(table, reference) if reference in table else None
        if paired:
            sections += [f'Paired differences to {ROW_LABELS[reference]} (same seed; in '
                         'brackets, the seeds with a gain):', paired]
    finished = [f'{t} seed {s}' for s in args.seeds for t in TRAININGS
                if osp.isfile(osp.join(args.runs_dir, f'{t}_seed{s}.json'))]
    sections.insert(2, f'Finished trainings: {len(finished)} of '
                    f'{len(TRAININGS) * len(args.seeds)} ({", ".join(finished)}).')
    if stale:
        sections.append('Left out, trained with an older config: ' + ', '.join(stale))
    stem = osp.splitext(args.out)[0]
    plot(table, stem + '.png')
    sections.append(f'![mask AP per frequency group]({osp.basename(stem)}.png)')
    text = '\n\n'.join(sections) + '\n'
    with atomic_open(args.out) as f:
        f.write(text)
    print(text)
    print(f'[longtail] wrote {args.out}')


def main():
    args = parse_args()
    os.chdir(REPO)
    if not args.rebuild:
        run([sys.executable, 'tools/make_minilvis.py', '--out', 'data/minilvis'], args.port)
        if not osp.isfile(SPLIT):
            run([sys.executable, 'tools/dual_phase_split.py',
                 'data/minilvis/annotations/minilvis_v1_train.json', '--out', SPLIT], args.port)
        for seed in args.seeds:
            for training in args.trainings:
                train_and_evaluate(training, seed, args)
                write_report(args)
    write_report(args)


if __name__ == '__main__':
    sys.exit(main())
