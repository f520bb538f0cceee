"""Phase II of the shipped dual-phase configs has its own schedule, relative to its own length.

The learning rate of every iteration is replayed with mmengine's own schedulers, built as its
Runner builds them (``epoch_length`` = the iterations of one epoch) and stepped as its
ParamSchedulerHook steps them (iteration-based ones after every iteration, epoch-based ones after
every epoch).
"""
import glob

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import PARAM_SCHEDULERS

PHASE2 = sorted(glob.glob('configs/minilvis/dual_phase/cascade_*phase2_*.py')
                + glob.glob('configs/lvis/dual_phase/cascade_*phase2_*.py'))


def lr_per_iteration(cfg, epoch_length):
    """The learning rate each training iteration of ``cfg`` runs with."""
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=cfg.optim_wrapper.optimizer.lr)
    schedulers = [PARAM_SCHEDULERS.build(dict(s), default_args=dict(optimizer=optimizer,
                                                                      epoch_length=epoch_length))
                  for s in cfg.param_scheduler]
    lrs = []
    for _ in range(cfg.train_cfg.max_epochs):
        for _ in range(epoch_length):
            lrs.append(optimizer.param_groups[0]['lr'])
            optimizer.step()
            for s in schedulers:
                if not s.by_epoch:
                    s.step()
        for s in schedulers:
            if s.by_epoch:
                s.step()
    return lrs


def test_every_phase2_config_is_checked(repo_root):
    names = {p.split('/')[-1] for p in PHASE2}
    assert len(PHASE2) == 8
    assert {'cascade_phase2_r18_minilvis.py', 'cascade_tde_phase2_r18_minilvis.py',
            'cascade_phase2_r101.py', 'cascade_tde_phase2_x101.py'} <= names


def test_minilvis_phase2_schedule_numbers(repo_root):
    """~140 iterations (35 a epoch): a 28-iteration warm-up (mmengine's LinearLR reaches the full
    lr at its last one), 78 at full lr, 35 at lr x 0.1. The phase-I schedule it inherited before
    gave 100 of warm-up and 6 at full lr."""
    for name in ('cascade_phase2_r18_minilvis.py', 'cascade_tde_phase2_r18_minilvis.py'):
        cfg = Config.fromfile(str(repo_root / 'configs/minilvis/dual_phase' / name))
        lrs = lr_per_iteration(cfg, 35)
        assert len(lrs) == 140
        assert lrs[0] == pytest.approx(0.02 * 0.01)
        assert lrs[14] == pytest.approx(0.02 * (0.01 + 0.99 * 14 / 27))
        assert lrs[26] < 0.02 and lrs[27:105] == pytest.approx([0.02] * 78)
        assert lrs[105:] == pytest.approx([0.002] * 35)


def test_lvis_phase2_schedule_numbers(repo_root):
    """650 iterations a epoch (about phase II on LVIS v1): 52 of warm-up, steps at 16 and 19."""
    cfg = Config.fromfile(str(repo_root / 'configs/lvis/dual_phase/cascade_phase2_r101.py'))
    lrs = lr_per_iteration(cfg, 650)
    assert len(lrs) == 13000
    assert lrs[0] == pytest.approx(0.02 * 0.001) and lrs[50] < 0.02
    assert lrs[51:10400] == pytest.approx([0.02] * (10400 - 51))
    assert lrs[10400:12350] == pytest.approx([0.002] * 1950)
    assert lrs[12350:] == pytest.approx([0.0002] * 650)


@pytest.mark.parametrize('config', PHASE2, ids=lambda c: c.split('/')[-1][:-len('.py')])
@pytest.mark.parametrize('epoch_length', [35, 113, 650])
def test_phase2_schedule_follows_its_own_fractions(config, epoch_length, repo_root):
    """Whatever an epoch's length: warm-up over warmup_fraction of phase II's iterations, lr x 0.1
    at each of lr_step_fractions of its epochs, and nothing taken from phase I's iterations."""
    cfg = Config.fromfile(str(repo_root / config))
    epochs = cfg.phase2_epochs
    assert cfg.train_cfg.max_epochs == epochs
    lrs = lr_per_iteration(cfg, epoch_length)
    base = cfg.optim_wrapper.optimizer.lr
    warmup = int(cfg.warmup_fraction * epochs * epoch_length)
    steps = [round(f * epochs) * epoch_length for f in cfg.lr_step_fractions]
    # mmengine's LinearLR reaches the full lr at the warm-up's last iteration
    assert all(lr < base for lr in lrs[:warmup - 1])
    assert lrs[warmup - 1:steps[0]] == pytest.approx([base] * (steps[0] - warmup + 1))
    for k, (begin, end) in enumerate(zip(steps, steps[1:] + [len(lrs)]), start=1):
        assert lrs[begin:end] == pytest.approx([base * 0.1**k] * (end - begin))
    for s in cfg.param_scheduler:  # no count of iterations fixed in advance
        assert s.by_epoch and (s.type != 'LinearLR' or s.convert_to_iter_based)
