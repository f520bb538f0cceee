"""Distributed training through tools/dist_train.sh as two nodes on this machine (NNODES=2, one
process each), then a resume of that training by a 2-process run: every rank holds the same head
direction, the checkpoint holds it, and a resumed run starts from it on every rank."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from helpers.head_direction_hook import dump_path
from helpers.ports import free_port
from mmdet_tde.testing import MiniLVISOptions, make_minilvis

pytestmark = pytest.mark.slow
STAGES = [f'roi_head.bbox_head.{s}.fc_cls.head_direction' for s in range(3)]

# The mini-LVIS config, smaller: fewer proposals and RoIs, no data-loading workers, no val loop;
# the hook dumps every rank's head directions.
CONFIG = """
_base_ = '{base}'
custom_imports = dict(imports=['mmdet_tde', 'helpers.head_direction_hook'],
                      allow_failed_imports=False)
custom_hooks = [dict(type='HeadDirectionDumpHook')]
model = dict(train_cfg=dict(
    rpn_proposal=dict(nms_pre=200, max_per_img=100),
    rcnn=[dict(stage, sampler=dict(stage.sampler, num=32))
          for stage in _base_.model.train_cfg.rcnn]))
train_dataloader = dict(num_workers=0, persistent_workers=False)
val_dataloader = val_cfg = val_evaluator = None
"""


def launch(paths, name, nproc, args, **env):
    """Start tools/dist_train.sh in its own process group; its output goes to NAME.log."""
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHON=sys.executable, **env)
    # the hook is imported by the config as helpers.head_direction_hook
    env['PYTHONPATH'] = os.pathsep.join([str(Path(__file__).resolve().parents[1]),
                                         env.get('PYTHONPATH', '')])
    cmd = ['bash', str(paths['repo'] / 'tools/dist_train.sh'), str(paths['config']), str(nproc),
           '--work-dir', str(paths['work']), *args]
    with open(paths['dir'] / f'{name}.log', 'w') as log:
        proc = subprocess.Popen(cmd, cwd=paths['dir'], env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    proc.log = paths['dir'] / f'{name}.log'
    return proc


def wait_all(procs, timeout=300):
    """Wait for the launches; when one fails, stop the others (they would wait for it)."""
    deadline = time.monotonic() + timeout
    try:
        while any(p.poll() is None for p in procs) and time.monotonic() < deadline:
            if any(p.returncode for p in procs):
                break
            time.sleep(0.5)
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
    outputs = [p.log.read_text() for p in procs]
    for p, out in zip(procs, outputs):
        assert p.returncode == 0, f'{p.args} failed ({p.returncode}):\n{out[-6000:]}'
    return outputs


def dumps(work, event, epoch, world_size=2):
    return [torch.load(dump_path(work, event, epoch, rank), map_location='cpu')
            for rank in range(world_size)]


def checkpoint_directions(path):
    state = torch.load(path, map_location='cpu', weights_only=False)['state_dict']
    return {name: state[name] for name in STAGES}


@pytest.fixture(scope='module')
def two_nodes(tmp_path_factory, repo_root):
    """One epoch (2 iterations) as node 0 and node 1 of a 2-node job, one process each."""
    root = tmp_path_factory.mktemp('multinode')
    make_minilvis(str(root / 'data/minilvis'), MiniLVISOptions(seed=5, num_train=8, num_val=2),
                  progress=lambda *a: None)
    config = root / 'tiny_tde_minilvis.py'
    base = (repo_root / 'configs/minilvis/cascade_tde_r18_minilvis.py').as_posix()
    config.write_text(CONFIG.format(base=base))
    paths = dict(repo=repo_root, dir=root, config=config, work=root / 'work')
    port = str(free_port())
    nodes = [launch(paths, f'node{rank}', 1, ['--cfg-options', 'train_cfg.max_epochs=1'],
                    NNODES='2', NODE_RANK=str(rank), MASTER_ADDR='127.0.0.1', PORT=port)
             for rank in range(2)]
    wait_all(nodes)
    return paths


def test_two_nodes_end_with_one_head_direction_in_the_checkpoint(two_nodes):
    work = two_nodes['work']
    for rank_dump in dumps(work, 'before_train', 0):
        assert all(not rank_dump[name].any() for name in STAGES)  # a fresh start
    rank0, rank1 = dumps(work, 'after_train', 1)
    saved = checkpoint_directions(work / 'epoch_1.pth')
    for name in STAGES:
        assert torch.isfinite(rank0[name]).all() and rank0[name].norm() > 0
        assert torch.equal(rank0[name], rank1[name]), name
        assert torch.equal(saved[name], rank0[name]), name


@pytest.fixture(scope='module')
def resumed(two_nodes):
    """The 2-node training resumed by a 2-process run on one node, for a second epoch."""
    outputs = wait_all([launch(two_nodes, 'resume', 2,
                               ['--resume', '--cfg-options', 'train_cfg.max_epochs=2'],
                               PORT=str(free_port()))])
    return dict(two_nodes, log=outputs[0])


def test_resume_restores_the_saved_head_direction_on_every_rank(resumed):
    work = resumed['work']
    assert 'resumed epoch: 1' in resumed['log']
    saved = checkpoint_directions(work / 'epoch_1.pth')
    for rank_dump in dumps(work, 'before_train', 1):
        for name in STAGES:
            assert torch.equal(rank_dump[name], saved[name]), name
    rank0, rank1 = dumps(work, 'after_train', 2)
    final = checkpoint_directions(work / 'epoch_2.pth')
    for name in STAGES:
        assert torch.equal(rank0[name], rank1[name]) and torch.equal(final[name], rank0[name])
        assert not torch.equal(final[name], saved[name])  # the second epoch moved it
