"""Long-tail comparison on mini-LVIS (v2): TDE against what users would pick instead, every row
trained for the same number of iterations on a schedule the learning curve shows converged.

Every training is one shipped mini-LVIS config on an iteration schedule (the config's own is by
epochs, and repeat-factor sampling makes an epoch longer): ``EPOCHS`` epochs of the plain
dataset, a 100-iteration linear warm-up and the lr step at 3/4, as the shipped 4-epoch schedule
has. It trains through tools/dist_train.sh and is evaluated by tools/dist_sweep_alpha.sh, one
pass per swept setting: TDE's alpha (0 is the de-confounded softmax) and the tau of post-hoc
logit adjustment (tau 0 is the model as trained), on the same checkpoint. A dual-phase training
runs its phase I on that schedule, prepares the memory and trains phase II on phase II's own
schedule; its controls are joint training (the baseline's run) followed by the same phase II, and
both without the graph loss. The graph variants (a temperature, unit features, ignored boxes as
nodes) are phase-II options of the same runs, with per-box distillation as a further control.

``--curve`` trains seed 0 of the baseline and of repeat-factor sampling at ``CURVE_EPOCHS``
and writes the learning curve; ``EPOCHS`` is the shortest length at which both are within
``CONVERGED_WITHIN`` mask AP of their longest, set here from the curve's page. The curve
also trains ``SPEED_CONTROLS`` at its longest length: the baseline and RFS with the first
version's (wider, slower) settings, which the shipped ones must equal in AP at about half the
time, and under which RFS's gain over the baseline must hold. ``--settings first_version`` trains
every training that is not dual-phase with those settings, on its own page beside each row's gain
over the baseline under both settings.

Each finished training writes a small JSON under --runs-dir (metrics, seed, config digest,
commit, times); the tables, the readings and the plot are rebuilt from all of them, so runs
accumulate over several working periods. A run whose resolved config no longer matches (its
digest) is listed as stale and left out; rows added to a training later are evaluated on its
checkpoint if the work dir still holds it.

    python benchmarks/longtail_minilvis.py --curve               # the learning curve first
    python benchmarks/longtail_minilvis.py --seeds 0 1 2         # train what is missing
    python benchmarks/longtail_minilvis.py --seeds 0 1 2 --rebuild  # pages from finished runs
    python benchmarks/longtail_minilvis.py --settings first_version --seeds 0 1 2
"""
import argparse
import datetime
import functools
import hashlib
import importlib.util
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
GROUPS = ('AP', 'APr', 'APc', 'APf')
METRICS = tuple(f'{t}_{g}' for t in ('bbox', 'segm') for g in GROUPS)

# 455 training images, 2 processes x 2 images: 114 iterations an epoch of the plain dataset.
ITERS_PER_EPOCH = 114
WARMUP_ITERS = 100
CURVE_EPOCHS = (4, 8, 12, 16)
CURVE_TRAININGS = ('baseline', 'rfs')
# The speed-up's controls: the curve's trainings with the settings of the first version (wider
# FPN and heads, more sampled RoIs), trained at the curve's longest length; each against the
# shipped training it restores.
SPEED_CONTROLS = {f'{training}_before': training for training in CURVE_TRAININGS}
CONVERGED_WITHIN = 0.01  # mask AP
# The schedule of the comparison, chosen by the learning curve (docs/benchmarks/
# longtail_schedule_minilvis.md).
EPOCHS = 16

DUAL_PHASE_CONFIGS = ('dual_phase/cascade_phase1_r18_minilvis.py',
                      'dual_phase/cascade_phase2_r18_minilvis.py')
TDE_DUAL_PHASE_CONFIGS = ('dual_phase/cascade_tde_phase1_r18_minilvis.py',
                          'dual_phase/cascade_tde_phase2_r18_minilvis.py')
# Every phase II starts from the paper's form of the graph term, which the phase-II configs
# shipped when these rows were chosen; a training's phase2_options change it.
PAPER_FORM = {'model.roi_head.graph_temperature': 1.0, 'model.roi_head.graph_normalize': False,
              'model.roi_head.graph_nodes': 'labelled'}
NO_GRAPH = {'model.roi_head.graph_loss_weight': 0.0}
# The graph variants' temperature, fixed before any of them ran: the cosines of post-ReLU
# features between different boxes lie in about [0.5, 1], so at 0.05 a node at the middle
# (0.75) weighs e^-5 = 1/148 of the matching node (cosine 1 while the features are unchanged):
# the match keeps over 88% of a_ji with up to 20 nodes. A phase-II image here holds about 1.2
# labelled and 2.3 ignored objects (at most 4 and 7), so a process's batch of 2 has about 2.5
# nodes, 7 with the ignored boxes.
GRAPH_TEMPERATURE = 0.05
TEMPERED = {'model.roi_head.graph_temperature': GRAPH_TEMPERATURE}
TEMPERED_NORMALISED = dict(TEMPERED, **{'model.roi_head.graph_normalize': True})
DISTILL = {'model.roi_head.graph_loss_form': 'distill'}
IGNORED_NODES = dict(TEMPERED_NORMALISED, **{'model.roi_head.graph_nodes': 'labelled_and_ignored'})
# L_intra on the linear heads' logits, which the linear phase-II configs leave out (docs/
# dual_phase.md): the row that shows what it costs.
WITH_INTRA = {'model.roi_head.intra_loss_weight': 1.0}
NO_INTRA = {'model.roi_head.intra_loss_weight': 0.0}
SPLIT = 'data/minilvis/dual_phase_split.json'

# Evaluations of a trained model, by table row: ('alpha', a) TDE at alpha a (a sweep over the
# alphas of a training); ('alpha', a, 'phase1_direction') the same with the phase-I checkpoint's
# head direction in place of the trained one (dual-phase only); ('tau', t, form) logit
# adjustment at tau t ('exempted' or 'plain' form, a sweep per form); ('test',)
# tools/dist_test.sh as the config is.
def _with_logit_adjustment(row):
    return {row: ('tau', 0.0, 'exempted'), f'{row}_la': ('tau', 1.0, 'exempted'),
            f'{row}_la_plain': ('tau', 1.0, 'plain')}


TRAININGS = {
    'baseline': dict(config='cascade_baseline_r18_minilvis.py',
                     rows=_with_logit_adjustment('baseline')),
    'rfs': dict(config='cascade_rfs_r18_minilvis.py', rows=_with_logit_adjustment('rfs')),
    'seesaw': dict(config='cascade_seesaw_r18_minilvis.py', rows={'seesaw': ('test',)}),
    'seesaw_rfs': dict(config='cascade_seesaw_rfs_r18_minilvis.py',
                       rows={'seesaw_rfs': ('test',)}),
    'deconfound': dict(config='cascade_tde_r18_minilvis.py',
                       rows={'deconfound': ('alpha', 0.0), 'deconfound_tde': ('alpha', 1.5),
                             'deconfound_la': ('tau', 1.0, 'exempted'),
                             'deconfound_la_plain': ('tau', 1.0, 'plain')}),
    'deconfound_rfs': dict(config='cascade_tde_rfs_r18_minilvis.py',
                           rows={'deconfound_rfs': ('alpha', 0.0),
                                 'deconfound_rfs_tde': ('alpha', 1.5)}),
    # Dual-phase: phase I on the schedule of every row (or a training above reused as phase I:
    # the joint-training control), tools/dist_dual_phase_prepare.sh, then phase II on its own
    # schedule from its config. Trainings with the same phase I share it and its memory.
    'dual_phase': dict(phase1=DUAL_PHASE_CONFIGS[0], phase2=DUAL_PHASE_CONFIGS[1],
                       rows={'dual_phase': ('test',)}),
    'dual_phase_no_graph': dict(phase1=DUAL_PHASE_CONFIGS[0], phase2=DUAL_PHASE_CONFIGS[1],
                                phase2_options=NO_GRAPH, rows={'dual_phase_no_graph': ('test',)}),
    'joint_then_phase2': dict(phase1='baseline', phase2=DUAL_PHASE_CONFIGS[1],
                              rows={'joint_then_phase2': ('test',)}),
    # The no-graph gain is dual-phase's only if joint training does not get it too.
    'joint_then_phase2_no_graph': dict(phase1='baseline', phase2=DUAL_PHASE_CONFIGS[1],
                                       phase2_options=NO_GRAPH,
                                       rows={'joint_then_phase2_no_graph': ('test',)}),
    # head_direction='keep_phase1' freezes the direction and changes no weight (training never
    # reads the direction), so its row is this checkpoint with phase I's direction swapped in:
    # the same weights, one training fewer.
    'dual_phase_tde': dict(phase1=TDE_DUAL_PHASE_CONFIGS[0], phase2=TDE_DUAL_PHASE_CONFIGS[1],
                           rows={'dual_phase_deconfound': ('alpha', 0.0),
                                 'dual_phase_tde': ('alpha', 1.5),
                                 'dual_phase_tde_phase1_direction': (
                                     'alpha', 1.5, 'phase1_direction')}),
    # L_intra on the TDE heads' cosine scores (which their phase-II configs keep) against none.
    'dual_phase_tde_no_intra': dict(phase1=TDE_DUAL_PHASE_CONFIGS[0],
                                    phase2=TDE_DUAL_PHASE_CONFIGS[1], phase2_options=NO_INTRA,
                                    rows={'dual_phase_deconfound_no_intra': ('alpha', 0.0),
                                          'dual_phase_tde_no_intra': ('alpha', 1.5)}),
    # The linear heads' best graph variant on the TDE heads, against their no-graph control.
    'dual_phase_tde_no_graph': dict(phase1=TDE_DUAL_PHASE_CONFIGS[0],
                                    phase2=TDE_DUAL_PHASE_CONFIGS[1], phase2_options=NO_GRAPH,
                                    rows={'dual_phase_deconfound_no_graph': ('alpha', 0.0),
                                          'dual_phase_tde_no_graph': ('alpha', 1.5)}),
    'dual_phase_tde_graph_t_norm_ignored': dict(
        phase1=TDE_DUAL_PHASE_CONFIGS[0], phase2=TDE_DUAL_PHASE_CONFIGS[1],
        phase2_options=IGNORED_NODES,
        rows={'dual_phase_deconfound_graph_t_norm_ignored': ('alpha', 0.0),
              'dual_phase_tde_graph_t_norm_ignored': ('alpha', 1.5)}),
    # The graph variants (issue 27) against the controls no variant may lose to: no graph term,
    # per-box distillation, and joint training followed by the same phase II.
    'dual_phase_graph_t': dict(phase1=DUAL_PHASE_CONFIGS[0], phase2=DUAL_PHASE_CONFIGS[1],
                               phase2_options=TEMPERED, rows={'dual_phase_graph_t': ('test',)}),
    'dual_phase_graph_t_norm': dict(phase1=DUAL_PHASE_CONFIGS[0], phase2=DUAL_PHASE_CONFIGS[1],
                                    phase2_options=TEMPERED_NORMALISED,
                                    rows={'dual_phase_graph_t_norm': ('test',)}),
    'dual_phase_graph_t_norm_ignored': dict(
        phase1=DUAL_PHASE_CONFIGS[0], phase2=DUAL_PHASE_CONFIGS[1], phase2_options=IGNORED_NODES,
        rows={'dual_phase_graph_t_norm_ignored': ('test',)}),
    'dual_phase_distill': dict(phase1=DUAL_PHASE_CONFIGS[0], phase2=DUAL_PHASE_CONFIGS[1],
                               phase2_options=DISTILL, rows={'dual_phase_distill': ('test',)}),
    'joint_then_phase2_no_graph_intra': dict(
        phase1='baseline', phase2=DUAL_PHASE_CONFIGS[1],
        phase2_options=dict(NO_GRAPH, **WITH_INTRA),
        rows={'joint_then_phase2_no_graph_intra': ('test',)}),
    'joint_then_phase2_graph_t': dict(phase1='baseline', phase2=DUAL_PHASE_CONFIGS[1],
                                      phase2_options=TEMPERED,
                                      rows={'joint_then_phase2_graph_t': ('test',)}),
    'joint_then_phase2_graph_t_norm': dict(phase1='baseline', phase2=DUAL_PHASE_CONFIGS[1],
                                           phase2_options=TEMPERED_NORMALISED,
                                           rows={'joint_then_phase2_graph_t_norm': ('test',)}),
    # The shipped graph term after joint training: is the asynchronous phase I what it needs?
    'joint_then_phase2_graph_t_norm_ignored': dict(
        phase1='baseline', phase2=DUAL_PHASE_CONFIGS[1], phase2_options=IGNORED_NODES,
        rows={'joint_then_phase2_graph_t_norm_ignored': ('test',)}),
}
ROW_LABELS = {
    'baseline': 'linear baseline',
    'baseline_la': 'baseline + logit adjustment (tau 1, background exempted)',
    'baseline_la_plain': 'baseline + logit adjustment (tau 1, plain)',
    'rfs': 'repeat-factor sampling (RFS)',
    'rfs_la': 'RFS + logit adjustment (tau 1, background exempted)',
    'rfs_la_plain': 'RFS + logit adjustment (tau 1, plain)',
    'seesaw': 'Seesaw loss (+ normalised mask predictor)',
    'seesaw_rfs': 'Seesaw loss + RFS',
    'deconfound': 'de-confound (TDE off)',
    'deconfound_tde': 'de-confound-TDE (alpha 1.5)',
    'deconfound_la': 'de-confound + logit adjustment (tau 1, background exempted)',
    'deconfound_la_plain': 'de-confound + logit adjustment (tau 1, plain)',
    'deconfound_rfs': 'de-confound + RFS (TDE off)',
    'deconfound_rfs_tde': 'de-confound-TDE + RFS (alpha 1.5)',
    'dual_phase': 'dual-phase (linear heads)',
    'dual_phase_no_graph': 'control: dual-phase without the graph loss',
    'joint_then_phase2': 'control: joint training (the baseline), then the same phase II',
    'joint_then_phase2_no_graph': 'control: joint training, then phase II without the graph loss',
    'dual_phase_deconfound': 'dual-phase, de-confound heads (TDE off)',
    'dual_phase_tde': 'dual-phase, de-confound-TDE (alpha 1.5)',
    'dual_phase_tde_phase1_direction': 'dual-phase, de-confound-TDE (alpha 1.5), phase-I head '
                                       'direction kept',
    'dual_phase_deconfound_no_intra': 'dual-phase, de-confound heads (TDE off), without L_intra',
    'dual_phase_tde_no_intra': 'dual-phase, de-confound-TDE (alpha 1.5), without L_intra',
    'dual_phase_deconfound_no_graph': 'dual-phase, de-confound heads (TDE off), without the '
                                      'graph loss',
    'dual_phase_tde_no_graph': 'dual-phase, de-confound-TDE (alpha 1.5), without the graph loss',
    'dual_phase_deconfound_graph_t_norm_ignored': (
        'dual-phase, de-confound heads (TDE off), graph term at temperature '
        f'{GRAPH_TEMPERATURE}, unit features, ignored boxes as nodes'),
    'dual_phase_tde_graph_t_norm_ignored': (
        f'dual-phase, de-confound-TDE (alpha 1.5), graph term at temperature {GRAPH_TEMPERATURE}, '
        'unit features, ignored boxes as nodes'),
    'dual_phase_graph_t': f'dual-phase, graph term at temperature {GRAPH_TEMPERATURE}',
    'dual_phase_graph_t_norm': f'dual-phase, graph term at temperature {GRAPH_TEMPERATURE}, '
                               'unit features',
    'dual_phase_graph_t_norm_ignored': f'dual-phase, graph term at temperature '
                                       f'{GRAPH_TEMPERATURE}, unit features, ignored boxes as '
                                       'nodes',
    'dual_phase_distill': 'control: dual-phase with per-box distillation instead of the graph',
    'joint_then_phase2_no_graph_intra': 'control: joint training, then phase II without the '
                                        "graph loss, with L_intra on the linear head's logits",
    'joint_then_phase2_graph_t': 'control: joint training, then phase II with the graph term at '
                                 f'temperature {GRAPH_TEMPERATURE}',
    'joint_then_phase2_graph_t_norm': 'control: joint training, then phase II with the graph term '
                                      f'at temperature {GRAPH_TEMPERATURE}, unit features',
    'joint_then_phase2_graph_t_norm_ignored': 'control: joint training, then phase II with the '
                                              f'graph term at temperature {GRAPH_TEMPERATURE}, '
                                              'unit features, ignored boxes as nodes',
}
TABLE_TRAININGS = list(TRAININGS)
# Paired tables: each row against the reference of the same training data or checkpoint.
REFERENCES = ('baseline', 'rfs', 'deconfound', 'joint_then_phase2', 'dual_phase_no_graph',
              'dual_phase_distill')
# The trainings that are not dual-phase again with the first version's (wider, slower) settings,
# each '<training>_before' with its rows suffixed '_before': whether the cheaper configs change
# what the comparison measures. The speed controls are two of them.
FIRST_VERSION_OF = ('baseline', 'rfs', 'seesaw', 'seesaw_rfs', 'deconfound', 'deconfound_rfs')


def _with_first_version_settings(training):
    recipe = TRAININGS[training]
    return dict(recipe, first_version=True,
                rows={f'{row}_before': how for row, how in recipe['rows'].items()})


FIRST_VERSION_TRAININGS = {f'{t}_before': _with_first_version_settings(t)
                           for t in FIRST_VERSION_OF}
TRAININGS.update(FIRST_VERSION_TRAININGS)
ROW_LABELS.update((row, f"{ROW_LABELS[row[:-len('_before')]]}, the first version's settings")
                  for recipe in FIRST_VERSION_TRAININGS.values() for row in recipe['rows'])
FIRST_VERSION_REFERENCES = tuple(f'{r}_before' for r in REFERENCES if r in FIRST_VERSION_OF)
# The two tables: each trains its own rows and writes its own page.
TABLES = {
    'shipped': dict(trainings=TABLE_TRAININGS, references=REFERENCES,
                    out='docs/benchmarks/longtail_minilvis.md'),
    'first_version': dict(trainings=list(FIRST_VERSION_TRAININGS),
                          references=FIRST_VERSION_REFERENCES,
                          out='docs/benchmarks/longtail_minilvis_first_version.md'),
}
# Where a reused training's memory and phase-II start go, and its mark in the run digest.
TRAINED_ROWS = 'dual_phase_trained_rows'
# The sections of a resolved config that decide a run's numbers (what the digest covers):
# the top-level variables of the bases and comments are left out, so that a layout change
# that resolves to the same training keeps the finished runs.
DIGEST_KEYS = ('model', 'train_dataloader', 'test_dataloader', 'test_evaluator', 'train_cfg',
               'param_scheduler', 'optim_wrapper', 'randomness', 'load_from')
# Dual-phase RoI-head options that the phase-II configs left out when the first runs trained, at
# the values their RoI head then took: the digest leaves these values out, so that writing them
# into the configs keeps the runs.
UNWRITTEN_ROI_HEAD_OPTIONS = {'graph_nodes': 'labelled', 'head_direction': 'update'}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--settings', choices=list(TABLES), default='shipped',
                        help='which table: the shipped configs, or the trainings that are not '
                        "dual-phase with the first version's settings")
    parser.add_argument('--trainings', nargs='+', choices=list(TRAININGS),
                        help="which of the table's trainings to run (default: all)")
    parser.add_argument('--curve', action='store_true',
                        help=f'the learning curve: {", ".join(CURVE_TRAININGS)} at '
                        f'{CURVE_EPOCHS} epochs, seed 0; the speed controls at the longest, '
                        'at every --seeds')
    parser.add_argument('--epochs', type=int, nargs='+',
                        help='curve lengths (default: CURVE_EPOCHS), or the comparison\'s '
                        '(default: EPOCHS)')
    parser.add_argument('--nproc', type=int, default=2)
    parser.add_argument('--port', type=int, default=29613,
                        help='master port of the distributed runs')
    parser.add_argument('--work-dir', default='work_dirs/longtail_minilvis_v2')
    parser.add_argument('--runs-dir', default='docs/benchmarks/runs/longtail_minilvis_v2',
                        help='one JSON per finished training (commit them)')
    parser.add_argument('--out', help="the table's page (default: the table's own)")
    parser.add_argument('--curve-out', default='docs/benchmarks/longtail_schedule_minilvis.md')
    parser.add_argument('--rebuild', action='store_true',
                        help='only rebuild the pages from the finished runs')
    args = parser.parse_args()
    table = TABLES[args.settings]
    args.out = args.out or table['out']
    args.trainings = args.trainings or table['trainings']
    outside = [t for t in args.trainings if t not in table['trainings']]
    if outside:
        parser.error(f'--trainings: {", ".join(outside)} not in the {args.settings!r} table '
                     f'(--settings); its trainings: {", ".join(table["trainings"])}')
    return args


def run(cmd, port):
    print('[longtail] ' + ' '.join(cmd), flush=True)
    env = dict(os.environ, OMP_NUM_THREADS='1', PORT=str(port))
    subprocess.run(cmd, cwd=REPO, check=True, env=env)


def iteration_schedule(cfg, epochs):
    """``cfg`` trained ``epochs`` epochs of the plain dataset's iterations, whatever its sampler
    does to an epoch: warm-up, lr x 0.1 at 3/4, a checkpoint to resume from every 4 epochs."""
    iters = epochs * ITERS_PER_EPOCH
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=iters, val_interval=iters,
                         val_begin=iters + 1)
    cfg.param_scheduler = [
        dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=WARMUP_ITERS),
        dict(type='MultiStepLR', by_epoch=False, begin=0, end=iters,
             milestones=[round(0.75 * iters)], gamma=0.1)
    ]
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', by_epoch=False,
                                        interval=4 * ITERS_PER_EPOCH, max_keep_ckpts=1,
                                        save_last=True)
    cfg.log_processor = dict(type='LogProcessor', window_size=10, by_epoch=False)
    return cfg


@functools.cache  # every first-version run's digest asks for them
def first_version_settings():
    """(description, config options) of the first version's settings, from the profile that
    measured what they cost."""
    spec = importlib.util.spec_from_file_location(
        'minilvis_train_profile', osp.join(REPO, 'benchmarks', 'minilvis_train_profile.py'))
    profile = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(profile)
    return profile.VARIANTS['before']


def seeded_config(path, seed):
    cfg = Config.fromfile(osp.join(REPO, CONFIGS, path))
    cfg.randomness = dict(seed=seed, deterministic=False)
    return cfg


def run_configs(training, epochs, seed):
    """The configs a training runs, in order: one, or a dual-phase training's phase I (on the
    iteration schedule) and phase II (on its config's own schedule)."""
    recipe = TRAININGS[training]
    if 'config' in recipe:
        return [run_config(training, epochs, seed)]
    phase1 = recipe['phase1']
    phase1 = (run_config(phase1, epochs, seed) if phase1 in TRAININGS else
              iteration_schedule(seeded_config(phase1, seed), epochs))
    phase2 = seeded_config(recipe['phase2'], seed)
    phase2.merge_from_dict(dict(PAPER_FORM, **recipe.get('phase2_options', {})))
    return [phase1, phase2]


def run_config(training, epochs, seed):
    """The config a one-config training runs: the shipped one, seeded, on the iteration
    schedule."""
    cfg = seeded_config(TRAININGS[training]['config'], seed)
    if TRAININGS[training].get('first_version'):
        cfg.merge_from_dict(first_version_settings()[1])
    return iteration_schedule(cfg, epochs)


def config_digest(cfg):
    resolved = cfg.to_dict()
    roi_head = resolved['model'].get('roi_head', {})
    for key, value in UNWRITTEN_ROI_HEAD_OPTIONS.items():
        if roi_head.get(key, value) == value:
            roi_head.pop(key, None)
    text = json.dumps({k: resolved.get(k) for k in DIGEST_KEYS}, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def run_digest(training, epochs, seed):
    """A one-config training's config digest; a dual-phase one's over both phases' digests."""
    digests = [config_digest(cfg) for cfg in run_configs(training, epochs, seed)]
    if len(digests) == 1:
        return digests[0]
    if reuses_training(training):  # runs from when prepare re-initialised the rows are stale
        digests.append(TRAINED_ROWS)
    return hashlib.sha256(' '.join(digests).encode()).hexdigest()[:16]


def reuses_training(training):
    """Whether a dual-phase training's phase I is another training (the joint-training
    control), whose phase-II classifier rows the prepare tool keeps."""
    return TRAININGS[training].get('phase1') in TRAININGS


def git_commit():
    out = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=REPO, capture_output=True,
                         text=True)
    return out.stdout.strip() or 'unknown'


def run_name(training, epochs, seed):
    return f'{training}_{epochs}e_seed{seed}'


def latest_test_metrics(test_dir):
    runs = sorted(d for d in os.listdir(test_dir) if d[:8].isdigit())
    with open(osp.join(test_dir, runs[-1], runs[-1] + '.json')) as f:
        return json.load(f)


def evaluation_passes(rows):
    """The tool runs that evaluate ``rows``: {pass: [(row, value)]}, a pass being ('test',),
    ('alpha',), ('alpha', 'phase1_direction') or ('tau', form)."""
    passes = {}
    for row, how in rows.items():
        if how[0] == 'test':
            key, value = ('test',), None
        else:
            key, value = (how[0], *how[2:]), how[1]
        passes.setdefault(key, []).append((row, value))
    return passes


def with_phase1_head_direction(checkpoint, phase1_checkpoint, out):
    """Write ``checkpoint`` with every classifier's ``head_direction`` buffer taken from
    ``phase1_checkpoint``: what phase II with ``head_direction='keep_phase1'`` ends with."""
    import torch

    from mmdet_tde.utils.checkpoint import load_checkpoint_file
    trained = load_checkpoint_file(checkpoint, map_location='cpu')
    phase1 = load_checkpoint_file(phase1_checkpoint, map_location='cpu')['state_dict']
    state = trained['state_dict']
    keys = sorted(k for k in state if k.endswith('.head_direction'))
    if not keys or keys != sorted(k for k in phase1 if k.endswith('.head_direction')):
        raise ValueError(f'the head directions of {checkpoint} ({keys}) and of '
                         f'{phase1_checkpoint} differ or are missing')
    state.update((k, phase1[k].clone()) for k in keys)
    with atomic_path(out) as tmp:
        torch.save(trained, tmp)
    return out


def evaluate(rows, config, checkpoint, work_dir, args, phase1_checkpoint=None):
    """Metrics of each table row of one trained model, one tool run per pass."""
    results = {}
    for key, members in evaluation_passes(rows).items():
        pass_checkpoint, suffix = checkpoint, ''
        if key == ('alpha', 'phase1_direction'):
            pass_checkpoint = with_phase1_head_direction(
                checkpoint, phase1_checkpoint, osp.join(work_dir, 'phase1_direction.pth'))
            suffix = '_phase1_direction'
        if key == ('test',):
            test_dir = osp.join(work_dir, 'test')
            run(['bash', 'tools/dist_test.sh', config, checkpoint, str(args.nproc),
                 '--work-dir', test_dir], args.port)
            results[members[0][0]] = latest_test_metrics(test_dir)
            continue
        values = sorted({value for _, value in members})
        if key[0] == 'alpha':
            sweep_dir, flags = osp.join(work_dir, 'sweep_alpha' + suffix), ['--alphas']
            name, stem = 'alphas', 'alpha_sweep'
        else:
            sweep_dir = osp.join(work_dir, f'sweep_tau_{key[1]}')
            flags = ['--logit-adjust-form', key[1], '--logit-adjust-taus']
            name, stem = 'taus', 'logit_adjust_sweep'
        run(['bash', 'tools/dist_sweep_alpha.sh', config, pass_checkpoint, str(args.nproc),
             '--work-dir', sweep_dir, *flags, *map(str, values)], args.port)
        with open(osp.join(sweep_dir, f'{stem}.json')) as f:
            sweep = json.load(f)
        by_value = dict(zip(sweep[name], sweep['metrics']))
        results.update((row, by_value[value]) for row, value in members)
    return {row: {k.split('/')[-1]: v for k, v in m.items() if '/' in k}
            for row, m in results.items()}


def train(cfg, work_dir, args):
    """Train ``cfg`` in ``work_dir`` unless its final checkpoint is there (an interrupted
    training resumes from its latest checkpoint); its config and final checkpoint. A work dir
    of another config (the configs changed since it trained) is moved aside first: its
    checkpoints must not stand for this config's."""
    config = osp.join(work_dir, 'config.py')
    if osp.isfile(config):
        digest = config_digest(Config.fromfile(config))
        if digest != config_digest(cfg):
            stale = f'{work_dir}.stale-{digest}'
            print(f'[longtail] {work_dir} holds a training of another config: moved to {stale}',
                  flush=True)
            os.rename(work_dir, stale)
    os.makedirs(work_dir, exist_ok=True)
    cfg.dump(config)
    loop = cfg.train_cfg
    final = osp.join(work_dir, f'iter_{loop.max_iters}.pth' if 'max_iters' in loop else
                     f'epoch_{loop.max_epochs}.pth')
    if not osp.isfile(final):
        resume = ['--resume'] if osp.isfile(osp.join(work_dir, 'last_checkpoint')) else []
        run(['bash', 'tools/dist_train.sh', config, str(args.nproc), '--work-dir', work_dir,
             *resume], args.port)
    return config, final


def phase1_work_dir(training, epochs, seed, args):
    """Dual-phase trainings with the same phase I share its training and memory."""
    phase1 = TRAININGS[training]['phase1']
    name = phase1 if phase1 in TRAININGS else 'phase1_' + osp.splitext(osp.basename(phase1))[0]
    return osp.abspath(osp.join(args.work_dir, run_name(name, epochs, seed)))


def train_dual_phase(training, epochs, seed, cfgs, work_dir, args):
    """Phase I (or the training it reuses), the memory, phase II: phase II's config and final
    checkpoint, and phase I's final checkpoint."""
    phase1_cfg, phase2_cfg = cfgs
    phase1_dir = phase1_work_dir(training, epochs, seed, args)
    phase1_config, phase1_checkpoint = train(phase1_cfg, phase1_dir, args)
    memory_dir = osp.join(phase1_dir, TRAINED_ROWS if reuses_training(training) else 'dual_phase')
    if not osp.isfile(osp.join(memory_dir, 'dual_phase_phase2_init.pth')):
        run(['bash', 'tools/dist_dual_phase_prepare.sh', phase1_config, phase1_checkpoint,
             str(args.nproc), '--split-file', SPLIT, '--out-dir', memory_dir], args.port)
    phase2_cfg.model.update(teacher_config=phase1_config, teacher_checkpoint=phase1_checkpoint)
    phase2_cfg.train_dataloader.dataset.memory_file = osp.join(memory_dir,
                                                               'dual_phase_memory.json')
    phase2_cfg.load_from = osp.join(memory_dir, 'dual_phase_phase2_init.pth')
    return (*train(phase2_cfg, work_dir, args), phase1_checkpoint)


def train_and_evaluate(training, epochs, seed, args):
    """Train one (method, length, seed) unless its run JSON exists with this digest; evaluate
    the rows it lacks; write the run JSON."""
    name = run_name(training, epochs, seed)
    run_path = osp.join(args.runs_dir, f'{name}.json')
    cfgs = run_configs(training, epochs, seed)
    digest = run_digest(training, epochs, seed)
    rows = TRAININGS[training]['rows']
    record = None
    if osp.isfile(run_path):
        with open(run_path) as f:
            record = json.load(f)
        if record['config_digest'] != digest:
            record = None
    if record is not None and set(rows) <= set(record['results']):
        print(f'[longtail] {name}: finished earlier ({run_path})', flush=True)
        return
    work_dir = osp.abspath(osp.join(args.work_dir, name))
    # A training that picks up checkpoints of an earlier one (its own, or a phase I it shares
    # with another training) is only partly timed here.
    trained_in = [work_dir] + ([phase1_work_dir(training, epochs, seed, args)]
                               if len(cfgs) > 1 else [])
    resumed = any(osp.isfile(osp.join(d, 'last_checkpoint')) for d in trained_in)
    start = time.time()
    if len(cfgs) == 1:
        (config, checkpoint), phase1_checkpoint = train(cfgs[0], work_dir, args), None
    else:
        config, checkpoint, phase1_checkpoint = train_dual_phase(training, epochs, seed, cfgs,
                                                                 work_dir, args)
    train_s = time.time() - start
    if record is None:
        recipe = TRAININGS[training]
        configs = [recipe[k] for k in ('config', 'phase1', 'phase2') if k in recipe]
        record = dict(training=training, seed=seed, epochs=epochs,
                      iters=cfgs[0].train_cfg.max_iters,
                      config=configs[0] if len(configs) == 1 else configs,
                      config_digest=digest, commit=git_commit(), nproc=args.nproc,
                      train_seconds=None if resumed else round(train_s), results={})
    missing = {row: how for row, how in rows.items() if row not in record['results']}
    start = time.time()
    record['results'].update(evaluate(missing, config, checkpoint, work_dir, args,
                                      phase1_checkpoint))
    record['eval_seconds'] = record.get('eval_seconds', 0) + round(time.time() - start)
    record['finished'] = datetime.datetime.now(datetime.timezone.utc).isoformat(
        timespec='seconds')
    write_json_atomic(record, run_path, sort_keys=True)
    print(f'[longtail] {name}: {record["train_seconds"]} s training, '
          f'{record["eval_seconds"]} s evaluation -> {run_path}', flush=True)


def load_runs(runs_dir, trainings, epochs, seeds):
    """{(row, epochs): {seed: metrics}} of the runs whose config matches the current one, the
    stale runs' file names, and the finished trainings' records."""
    table, stale, records = {}, [], []
    for training in trainings:
        for length in epochs:
            for seed in seeds:
                path = osp.join(runs_dir, run_name(training, length, seed) + '.json')
                if not osp.isfile(path):
                    continue
                with open(path) as f:
                    record = json.load(f)
                if record['config_digest'] != run_digest(training, length, seed):
                    stale.append(osp.basename(path))
                    continue
                records.append(record)
                for row, metrics in record['results'].items():
                    table.setdefault((row, length), {})[seed] = metrics
    return table, stale, records


def mean_std(values):
    values = np.asarray(values) * 100
    spread = f' ± {values.std(ddof=1):.1f}' if len(values) > 1 else ''
    return f'{round(values.mean(), 1) + 0.0:.1f}{spread}'  # + 0.0: no '-0.0'


def results_table(table):
    """{row: {seed: metrics}} as mean ± sample std over seeds, AP x 100."""
    lines = ['| method | seeds | ' + ' | '.join(METRICS) + ' |',
             '|---|---|' + '---|' * len(METRICS)]
    for row in ROW_LABELS:
        if row in table:
            per_seed = table[row]
            cells = [mean_std([m[key] for m in per_seed.values()]) for key in METRICS]
            lines.append(f'| {ROW_LABELS[row]} | {len(per_seed)} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def paired_differences(table, row, reference):
    """{metric: per-seed differences row - reference} over the seeds both have."""
    seeds = sorted(set(table[row]) & set(table[reference]))
    return {key: [table[row][s][key] - table[reference][s][key] for s in seeds]
            for key in METRICS}


def paired_table(table, reference):
    """Per-seed differences to ``reference`` (same seed): mean ± std, and seeds with a gain."""
    lines = [f'| method - {ROW_LABELS[reference]} | seeds | ' + ' | '.join(METRICS) + ' |',
             '|---|---|' + '---|' * len(METRICS)]
    for row in ROW_LABELS:
        if row == reference or row not in table or reference not in table:
            continue
        diffs = paired_differences(table, row, reference)
        if not diffs[METRICS[0]]:
            continue
        cells = [f'{mean_std(d)} ({sum(x > 0 for x in d)}/{len(d)})' for d in diffs.values()]
        lines.append(f'| {ROW_LABELS[row]} | {len(diffs[METRICS[0]])} | ' + ' | '.join(cells)
                     + ' |')
    return '\n'.join(lines) if len(lines) > 2 else None


def verdict(table, row, reference, min_seeds=3):
    """Per frequency group: 'helps' where every seed gains on both box and mask AP, 'hurts'
    where every seed loses on both, else 'mixed'; None with fewer than ``min_seeds`` pairs."""
    diffs = paired_differences(table, row, reference)
    if len(diffs[METRICS[0]]) < min_seeds:
        return None
    out = {}
    for group in GROUPS:
        both = diffs[f'bbox_{group}'] + diffs[f'segm_{group}']
        out[group] = ('helps' if all(d > 0 for d in both) else
                      'hurts' if all(d < 0 for d in both) else 'mixed')
    return out


def verdict_table(table, references):
    lines = ['| method | against | ' + ' | '.join(GROUPS) + ' |',
             '|---|---|' + '---|' * len(GROUPS)]
    for reference in references:
        for row in ROW_LABELS:
            if row == reference or row not in table or reference not in table:
                continue
            result = verdict(table, row, reference)
            if result:
                lines.append(f'| {ROW_LABELS[row]} | {ROW_LABELS[reference]} | '
                             + ' | '.join(result[g] for g in GROUPS) + ' |')
    return '\n'.join(lines) if len(lines) > 2 else None


def plot_table(table, path, title):
    """Box and mask AP per frequency group, mean ± std over seeds; the axes start at 0."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    rows = [r for r in ROW_LABELS if r in table]
    x = np.arange(len(rows))
    fig, axes = plt.subplots(2, 1, figsize=(max(7, 0.9 * len(rows)), 8), sharex=True)
    for ax, iou_type in zip(axes, ('bbox', 'segm')):
        for i, group in enumerate(GROUPS):
            values = [np.array([m[f'{iou_type}_{group}'] for m in table[r].values()]) * 100
                      for r in rows]
            spread = [v.std(ddof=1) if len(v) > 1 else 0.0 for v in values]
            ax.bar(x + (i - 1.5) * 0.2, [v.mean() for v in values], width=0.2, label=group,
                   yerr=spread if any(spread) else None, capsize=2)
        ax.set_ylim(0, 100)
        ax.set_ylabel(f'{"box" if iou_type == "bbox" else "mask"} AP x 100')
        ax.grid(axis='y', alpha=0.3)
        ax.legend(ncol=4, loc='upper left', fontsize=8)
    axes[1].set_xticks(x, [ROW_LABELS[r] for r in rows], rotation=30, ha='right', fontsize=8)
    axes[0].set_title(f'mini-LVIS: long-tail methods at equal iterations{title} (mean ± std over '
                      'seeds)')
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120)
    plt.close(fig)


def converged_epochs(curve):
    """The shortest curve length at which every training's mask AP is within
    ``CONVERGED_WITHIN`` of its value at the longest length; None if a training lacks it."""
    lengths = sorted({length for per_training in curve.values() for length in per_training})
    if not lengths or any(lengths[-1] not in per_training for per_training in curve.values()):
        return None
    for length in lengths:
        if all(length in p and p[lengths[-1]] - p[length] <= CONVERGED_WITHIN
               for p in curve.values()):
            return length
    return None


def write_curve(args):
    """The learning curve's table, plot and chosen length (seed 0)."""
    lengths = sorted(args.epochs or CURVE_EPOCHS)
    table, stale, records = load_runs(args.runs_dir, CURVE_TRAININGS, lengths, [0])
    if not records:
        print('[longtail] no finished curve runs yet')
        return
    seconds = {(r['training'], r['epochs']): r['train_seconds'] for r in records}
    lines = ['| training | epochs | iterations | train s | ' + ' | '.join(METRICS) + ' |',
             '|---|---|---|---|' + '---|' * len(METRICS)]
    curve = {}
    for training in CURVE_TRAININGS:
        for length in lengths:
            metrics = table.get((training, length), {}).get(0)
            if metrics is None:
                continue
            curve.setdefault(training, {})[length] = metrics['segm_AP']
            cells = [f'{100 * metrics[k]:.1f}' for k in METRICS]
            lines.append(f'| {ROW_LABELS[training]} | {length} | {length * ITERS_PER_EPOCH} | '
                         f'{_seconds(seconds[(training, length)])} | ' + ' | '.join(cells)
                         + ' |')
    chosen = converged_epochs(curve) if set(curve) == set(CURVE_TRAININGS) else None
    choice = (f'Shortest length at which both are within {100 * CONVERGED_WITHIN:.0f} mask AP of '
              f'their longest: **{chosen} epochs ({chosen * ITERS_PER_EPOCH} iterations)**.'
              if chosen else 'Not every length has finished: no length chosen yet.')
    for control in SPEED_CONTROLS:
        found = speed_control(args, control, lengths[-1])
        if found:
            lines.append(found[0])
            choice += ' ' + found[1]
    choice += (' Every row\'s gain over the baseline under both settings, at every seed: '
               '[longtail_minilvis_first_version.md](longtail_minilvis_first_version.md).')
    stem = osp.splitext(args.curve_out)[0]
    plot_curve(table, lengths, stem + '.png')
    sections = [
        '# Learning curve of the mini-LVIS comparison',
        'Reproduce: `python benchmarks/longtail_minilvis.py --curve`. Seed 0, '
        f'{args.nproc} CPU processes x 2 images, every length set in iterations of the plain '
        f'dataset ({ITERS_PER_EPOCH} an epoch; repeat-factor sampling repeats images within '
        f'those iterations), a {WARMUP_ITERS}-iteration warm-up and lr x 0.1 at 3/4. AP x 100.',
        '\n'.join(lines), choice,
        f'![box and mask AP against the schedule length]({osp.basename(stem)}.png)']
    if stale:
        sections.append('Left out, trained with an older config: ' + ', '.join(stale))
    with atomic_open(args.curve_out) as f:
        f.write('\n\n'.join(sections) + '\n')
    print('\n\n'.join(sections))
    print(f'[longtail] wrote {args.curve_out}')


def seed0_run(args, training, length):
    """(metrics, train seconds) of a training's seed-0 run at ``length`` epochs, or None."""
    table, _, records = load_runs(args.runs_dir, [training], [length], [0])
    return (table[(training, length)][0], records[0]['train_seconds']) if records else None


def speed_control(args, control, length):
    """A speed control's table line and what it says against the shipped training it restores
    at ``length`` epochs (seed 0); None until both have finished."""
    shipped_name = SPEED_CONTROLS[control]
    runs = seed0_run(args, control, length), seed0_run(args, shipped_name, length)
    if None in runs:
        return None
    (metrics, seconds), (shipped, shipped_seconds) = runs
    cells = [f'{100 * metrics[k]:.1f}' for k in METRICS]
    line = (f'| {ROW_LABELS[control]} | {length} | {length * ITERS_PER_EPOCH} | '
            f'{_seconds(seconds)} | ' + ' | '.join(cells) + ' |')
    timing = (f'trains in {shipped_seconds / seconds:.2f}x the time of the first version\'s '
              f'settings ({shipped_seconds} s against {seconds} s, timed in the run, so on a '
              'shared machine only roughly' if None not in (seconds, shipped_seconds) else
              'was not timed against the first version\'s settings (a training resumed from '
              'checkpoints')
    text = (f'At {length} epochs the shipped {ROW_LABELS[shipped_name]} {timing}; the '
            'profile\'s side-by-side ratio: '
            '[minilvis_train_profile.md](minilvis_train_profile.md)), at mask AP '
            f'{100 * shipped["segm_AP"]:.1f} against {100 * metrics["segm_AP"]:.1f} and box AP '
            f'{100 * shipped["bbox_AP"]:.1f} against {100 * metrics["bbox_AP"]:.1f}.')
    return line, text


def _seconds(seconds) -> str:
    return '-' if seconds is None else str(seconds)


def plot_curve(table, lengths, path):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, iou_type in zip(axes, ('bbox', 'segm')):
        for training, style in zip(CURVE_TRAININGS, ('-', '--')):
            for group in GROUPS:
                points = [(n, table[(training, n)][0][f'{iou_type}_{group}'] * 100)
                          for n in lengths if 0 in table.get((training, n), {})]
                if points:
                    ax.plot(*zip(*points), style, marker='o', label=f'{training} {group}')
        ax.set_ylim(0, 100)
        ax.set_xlabel('epochs of the plain dataset')
        ax.set_title(f'{"box" if iou_type == "bbox" else "mask"} AP x 100, seed 0')
        ax.grid(alpha=0.3)
    axes[1].legend(ncol=2, fontsize=7, loc='lower right')
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120)
    plt.close(fig)


def settings_table(table):
    """Each row's gain over the linear baseline of its own settings, with the shipped settings
    and with the first version's, over the seeds where all four runs exist: mean ± std (seeds
    with a gain). Whether the cheaper configs change what the comparison measures."""
    keys = {'segm_AP': 'mask AP', 'segm_APr': 'mask APr', 'bbox_AP': 'box AP',
            'bbox_APr': 'box APr'}
    lines = ['| method | seeds | ' + ' | '.join(f'{name}, shipped | {name}, first version'
                                              for name in keys.values()) + ' |',
             '|---|---|' + '---|' * 2 * len(keys)]
    for row in ROW_LABELS:
        pairs = ((row, 'baseline'), (f'{row}_before', 'baseline_before'))
        if row == 'baseline' or any(r not in table for pair in pairs for r in pair):
            continue
        seeds = sorted(set.intersection(*(set(table[r]) for pair in pairs for r in pair)))
        if not seeds:
            continue
        cells = []
        for key in keys:
            for method, baseline in pairs:
                diffs = [table[method][s][key] - table[baseline][s][key] for s in seeds]
                cells.append(f'{mean_std(diffs)} ({sum(d > 0 for d in diffs)}/{len(diffs)})')
        lines.append(f'| {ROW_LABELS[row]} | {len(seeds)} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines) if len(lines) > 2 else None


def write_report(args, epochs):
    spec = TABLES[args.settings]
    loaded, stale, records = load_runs(args.runs_dir, spec['trainings'], [epochs], args.seeds)
    if not records:
        print('[longtail] no finished runs yet')
        return
    table = {row: per_seed for (row, _), per_seed in loaded.items()}
    finished = sorted(run_name(r['training'], epochs, r['seed']) for r in records)
    first_version = args.settings == 'first_version'
    flags = ' --settings first_version' if first_version else ''
    sections = ['# Long-tail methods on mini-LVIS' + (
        ", the first version's settings" if first_version else '')]
    if first_version:
        sections.append(
            'The trainings of [longtail_minilvis.md](longtail_minilvis.md) that are not '
            'dual-phase, again with the settings the mini-LVIS configs had before they were made '
            f'cheaper ({first_version_settings()[0]}; '
            '[minilvis_train_profile.md](minilvis_train_profile.md)), on the same schedule and '
            'seeds: whether the cheaper configs change what the comparison measures.')
    sections += [
        'Reproduce (runs accumulate; finished ones are reused): '
        f'`python benchmarks/longtail_minilvis.py{flags} --seeds '
        f'{" ".join(map(str, args.seeds))}`. '
        f'Every training: {epochs * ITERS_PER_EPOCH} iterations ({epochs} epochs of the plain '
        'dataset, the length the learning curve chose: '
        '[longtail_schedule_minilvis.md](longtail_schedule_minilvis.md)), '
        f'{args.nproc} CPU processes x 2 images, the seed in `randomness` '
        '(`deterministic=False`). Values are AP x 100, mean ± std over seeds.',
        f'Finished trainings: {len(records)} of {len(spec["trainings"]) * len(args.seeds)} '
        f'({", ".join(finished)}).',
        results_table(table)]
    if first_version:
        shipped, _, _ = load_runs(args.runs_dir, FIRST_VERSION_OF, [epochs], args.seeds)
        compared = settings_table(dict(table, **{row: s for (row, _), s in shipped.items()}))
        if compared:
            sections += ["Each row's gain over the linear baseline trained with the same "
                         'settings, shipped against the first version\'s (same seeds; in '
                         'brackets, the seeds with a gain):', compared]
    for reference in spec['references']:
        paired = paired_table(table, reference) if reference in table else None
        if paired:
            sections += [f'Paired differences to {ROW_LABELS[reference]} (same seed; in '
                         'brackets, the seeds with a gain):', paired]
    verdicts = verdict_table(table, spec['references'])
    if verdicts:
        sections += ['Per frequency group, against the reference of the same data or checkpoint: '
                     '"helps" only where every seed gains on both box and mask AP, "hurts" where '
                     'every seed loses on both, "mixed" otherwise (at least 3 seeds):', verdicts]
    if stale:
        sections.append('Left out, trained with an older config: ' + ', '.join(stale))
    stem = osp.splitext(args.out)[0]
    plot_table(table, stem + '.png', ", first version's settings" if first_version else '')
    sections.append(f'![box and mask AP per frequency group]({osp.basename(stem)}.png)')
    text = '\n\n'.join(sections) + '\n'
    with atomic_open(args.out) as f:
        f.write(text)
    print(text)
    print(f'[longtail] wrote {args.out}')


def prepare_data(trainings, args):
    """mini-LVIS (generated unless it is there with the same options) and, for dual-phase
    trainings, the category split their configs read."""
    run([sys.executable, 'tools/make_minilvis.py', '--out', 'data/minilvis'], args.port)
    if any('phase2' in TRAININGS[t] for t in trainings):
        run([sys.executable, 'tools/dual_phase_split.py',
             'data/minilvis/annotations/minilvis_v1_train.json', '--out', SPLIT], args.port)


def main():
    args = parse_args()
    os.chdir(REPO)
    if args.curve:
        lengths = args.epochs or CURVE_EPOCHS
        if not args.rebuild:
            prepare_data(CURVE_TRAININGS, args)
            for length in lengths:
                for training in CURVE_TRAININGS:
                    train_and_evaluate(training, length, 0, args)
                    write_curve(args)
            for seed in args.seeds:  # the controls and what they control, at every seed
                for training in (*SPEED_CONTROLS, *SPEED_CONTROLS.values()):
                    train_and_evaluate(training, max(lengths), seed, args)
                    write_curve(args)
        write_curve(args)
        return
    epochs = (args.epochs or [EPOCHS])[0]
    if not args.rebuild:
        prepare_data(args.trainings, args)
        for seed in args.seeds:
            for training in args.trainings:
                train_and_evaluate(training, epochs, seed, args)
                write_report(args, epochs)
    write_report(args, epochs)


if __name__ == '__main__':
    sys.exit(main())
