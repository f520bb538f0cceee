"""End to end through the tools on a tiny mini-LVIS: 2-process CPU training (gloo), a checkpoint,
a resume, tools/test.py on the checkpoint and the distributed one-pass alpha sweep agreeing
with it."""
import csv
import glob
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch

from helpers.ports import free_port
from mmdet_tde.testing import MiniLVISOptions, make_minilvis

pytestmark = pytest.mark.slow
CONFIG = 'configs/minilvis/cascade_tde_r18_minilvis.py'


def run(cmd, cwd, timeout=900):
    env = dict(os.environ, OMP_NUM_THREADS='1', PORT=str(free_port()), PYTHON=sys.executable)
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f'{cmd} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}'
    return proc.stdout + proc.stderr


@pytest.fixture(scope='module')
def trained(tmp_path_factory, repo_root):
    """Train 1 epoch with tools/dist_train.sh on 2 CPU processes, then resume for a second.

    Seeded: this tiny model's alpha-0 and alpha-3 metrics can coincide for some seeds (seen once
    in a few runs), so an unseeded run made the TDE-off test flaky."""
    root = tmp_path_factory.mktemp('e2e')
    make_minilvis(str(root / 'data/minilvis'), MiniLVISOptions(seed=3, num_train=48, num_val=12),
                  progress=lambda *a: None)
    work = root / 'work'
    train = ['bash', str(repo_root / 'tools/dist_train.sh'), str(repo_root / CONFIG), '2',
             '--work-dir', str(work), '--cfg-options', 'randomness.seed=0']
    run(train + ['train_cfg.max_epochs=1'], cwd=root)
    epoch1 = torch.load(work / 'epoch_1.pth', map_location='cpu', weights_only=False)
    log = run(train + ['train_cfg.max_epochs=2', '--resume'], cwd=root)
    return dict(root=root, work=work, epoch1=epoch1, resume_log=log, repo=repo_root)


def test_checkpoints_hold_a_global_head_direction(trained):
    epoch2 = torch.load(trained['work'] / 'epoch_2.pth', map_location='cpu', weights_only=False)
    for ckpt in (trained['epoch1'], epoch2):
        for stage in range(3):
            d = ckpt['state_dict'][f'roi_head.bbox_head.{stage}.fc_cls.head_direction']
            assert torch.isfinite(d).all() and d.norm() > 0
    assert 'resumed epoch: 1' in trained['resume_log']
    assert epoch2['meta']['epoch'] == 2
    d1 = trained['epoch1']['state_dict']['roi_head.bbox_head.0.fc_cls.head_direction']
    d2 = epoch2['state_dict']['roi_head.bbox_head.0.fc_cls.head_direction']
    assert not torch.equal(d1, d2)


def _test_metrics(trained, *args):
    work = trained['work'] / ('test' + '_'.join(a.strip('-') for a in args))
    run([sys.executable, str(trained['repo'] / 'tools/test.py'), str(trained['repo'] / CONFIG),
         str(trained['work'] / 'epoch_2.pth'), '--work-dir', str(work), *args], cwd=trained['root'])
    files = [f for f in glob.glob(str(work / '*/*.json')) if osp.basename(f)[:8].isdigit()]
    with open(sorted(files)[-1]) as f:
        return json.load(f)


SWEPT_ALPHAS = (0.0, 0.8, 3.0)


@pytest.fixture(scope='module')
def sweep(trained):
    """The distributed one-pass sweep (2 gloo processes) of the trained checkpoint."""
    sweep_dir = trained['work'] / 'sweep'
    run(['bash', str(trained['repo'] / 'tools/dist_sweep_alpha.sh'),
         str(trained['repo'] / CONFIG), str(trained['work'] / 'epoch_2.pth'), '2',
         '--alphas', *map(str, SWEPT_ALPHAS), '--tide', '--work-dir', str(sweep_dir)],
        cwd=trained['root'])
    with open(sweep_dir / 'alpha_sweep.json') as f:
        result = json.load(f)
    assert result['alphas'] == list(SWEPT_ALPHAS)
    return dict(result, dir=sweep_dir)


def lvis_metrics(metrics):
    return {k: v for k, v in metrics.items() if k.startswith('lvis/')}


def test_test_tool_and_alpha_sweep_agree(trained, sweep):
    alpha = SWEPT_ALPHAS[1]
    tested = _test_metrics(trained, '--tde-alpha', str(alpha))
    for key in ('lvis/bbox_AP', 'lvis/bbox_APr', 'lvis/segm_AP', 'lvis/segm_APf'):
        assert key in tested and -1 <= tested[key] <= 1
    # Distributed sweep against the single-process tools/test.py.
    swept = sweep['metrics'][1]
    for key, value in lvis_metrics(tested).items():
        assert swept[key] == pytest.approx(value, abs=1e-6), key
    assert osp.isfile(sweep['dir'] / 'alpha_sweep.png')
    assert len(sweep['mean_cos_head_direction']) == 3
    assert all(-1 <= c <= 1 for c in sweep['mean_cos_head_direction'])
    assert len(sweep['extra_alpha_cost_ratio']) == 2
    assert all(r > 0 for r in sweep['extra_alpha_cost_ratio'])
    # Per-category pictures: each alpha's report, and the AP change from alpha 0 to the best
    # alpha by mask AP (of equal APs, the smaller alpha).
    for a in SWEPT_ALPHAS:
        png = sweep['dir'] / f'alpha_{a:g}' / 'lvis.segm_per_category.png'
        assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    mask_ap = [m['lvis/segm_AP'] for m in sweep['metrics']]
    change = sweep['ap_change']
    assert (change['iou_type'], change['reference_alpha']) == ('segm', 0.0)
    assert change['best_alpha'] == sweep['alphas'][mask_ap.index(max(mask_ap))]
    with open(sweep['dir'] / 'alpha_sweep_ap_change.csv') as f:
        rows = list(csv.DictReader(f))
    with open(sweep['dir'] / 'alpha_0' / 'lvis.segm_per_category.csv') as f:
        assert len(rows) == len(list(csv.DictReader(f)))
    assert (sweep['dir'] / 'alpha_sweep_ap_change.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_alpha_sweep_error_types_per_alpha(sweep):
    """--tide: each alpha's TIDE errors, lined up as that alpha's report has them; TIDE's AP50
    over all categories is the metric's own AP50 at that alpha."""
    errors = sweep['errors']
    assert errors['iou_type'] == 'segm'
    for alpha, metrics in zip(SWEPT_ALPHAS, sweep['metrics']):
        with open(sweep['dir'] / f'alpha_{alpha:g}' / 'lvis.segm_report.json') as f:
            report = json.load(f)['errors']['per_frequency']
        rows = [r for r in errors['rows'] if r['value'] == alpha]
        assert [{k: v for k, v in r.items() if k != 'value'} for r in rows] == report
        overall = next(r for r in rows if r['frequency'] == 'all')
        assert overall['AP50'] == pytest.approx(metrics['lvis/segm_AP50'], abs=1e-4)
        for row in rows:  # a group without ground truth in the small val set has no ΔAP
            assert row['Miss'] >= 0
            assert (row['dAP_Cls'] is None) == (row['num_evaluated'] == 0)
            assert row['num_evaluated'] == 0 or -1 <= row['dAP_Cls'] <= 1
    assert (sweep['dir'] / 'alpha_sweep_errors.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_test_tool_switches_tde_off_without_retraining(trained, sweep):
    """--tde off gives the sweep's alpha-0 row (TDE off), which TDE at alpha 3 changes."""
    off = lvis_metrics(_test_metrics(trained, '--tde', 'off'))
    alpha0, alpha3 = sweep['metrics'][0], sweep['metrics'][2]
    assert off
    for key, value in off.items():
        assert alpha0[key] == pytest.approx(value, abs=1e-6), key
    assert any(not np.isclose(alpha0[k], alpha3[k]) for k in off)
