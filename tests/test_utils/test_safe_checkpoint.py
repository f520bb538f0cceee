"""Checkpoints load with torch's ``weights_only=True`` plus a few allowed data types: code carried
by a checkpoint never runs without ``--unsafe-load``, and mmengine's own checkpoints (resume,
test, load_from) and stock mmdet ones still load."""
import os
import subprocess
import sys
from collections import OrderedDict
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.dataset import DefaultSampler, pseudo_collate
from mmengine.evaluator import BaseMetric
from mmengine.logging import HistoryBuffer
from mmengine.model import BaseModel
from mmengine.runner import Runner
from mmengine.runner.checkpoint import CheckpointLoader, _load_checkpoint
from torch import nn

from mmdet_tde.utils import (CheckpointError, UnsafeCheckpointError, checkpoint_loading,
                             load_checkpoint_file)
from mmdet_tde.utils.checkpoint import allowed_checkpoint_globals

ENV_SWITCH = 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD'


class FileMaker:
    """Unpickling it opens (creates) a file: stands for any code a checkpoint can carry."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return open, (self.path, 'w')


class TrustedNote:
    """A plain object of the user's own, outside the allowed types."""

    def __init__(self, text):
        self.text = text


class ToyModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        x = torch.stack(inputs)
        if mode == 'loss':
            return dict(loss=(self.linear(x) - 1).pow(2).mean())
        return [dict(pred=p) for p in self.linear(x)]


class ToyMetric(BaseMetric):

    def process(self, data_batch, data_samples):
        self.results.extend(float(s['pred']) for s in data_samples)

    def compute_metrics(self, results):
        return dict(mean_pred=float(np.mean(results)))


def toy_runner(work_dir, name, max_epochs=1, **kwargs):
    """A real mmengine Runner whose CheckpointHook writes ``epoch_N.pth`` as in our training."""
    data = [dict(inputs=torch.full((2, ), float(i))) for i in range(4)]
    loader = dict(dataset=data, batch_size=2,
                  sampler=dict(type=DefaultSampler, shuffle=False), collate_fn=pseudo_collate)
    return Runner(
        model=ToyModel(), work_dir=str(work_dir), experiment_name=name,
        train_dataloader=loader, test_dataloader=loader,
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs), test_cfg=dict(),
        test_evaluator=dict(type=ToyMetric),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9)),
        param_scheduler=dict(type='MultiStepLR', milestones=[1], by_epoch=True),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1),
                           logger=dict(type='LoggerHook', interval=1)),
        randomness=dict(seed=0), **kwargs)


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """One toy epoch: ``epoch_1.pth`` holds meta, message hub, optimizer and scheduler states,
    and numpy scalars beside them."""
    work = tmp_path_factory.mktemp('toy')
    runner = toy_runner(work, 'toy_train')
    runner.message_hub.update_info('np_scalar', np.float64(0.25))
    runner.train()
    runner.save_checkpoint(str(work), 'numpy_meta.pth',
                           meta=dict(score=np.float32(0.5), count=np.int64(3),
                                     hist=np.arange(3), dtype=np.dtype('float64')))
    return work


def save_with(tmp_path, name, payload):
    """A stock-looking checkpoint with ``payload`` hidden in its meta."""
    path = tmp_path / name
    torch.save(dict(state_dict=OrderedDict(w=torch.ones(2)), meta=dict(note=payload)), path)
    return path


def test_code_in_a_checkpoint_is_refused_and_does_not_run(tmp_path):
    marker = tmp_path / 'ran'
    path = save_with(tmp_path, 'evil.pth', FileMaker(marker))
    with checkpoint_loading(), pytest.raises(UnsafeCheckpointError) as err:
        _load_checkpoint(str(path), map_location='cpu')
    assert not marker.exists()
    message = str(err.value)
    assert str(path) in message and 'io.open' in message and '--unsafe-load' in message


@pytest.fixture
def remote_scheme(tmp_path):
    """A remote scheme ``testremote://NAME`` serving ``tmp_path/NAME`` the way mmengine's remote
    loaders read (s3, pavi): through ``_safe_torch_load`` in the maintained fork
    (onedl-mmengine), which retries a refused file with full unpickling, else ``torch.load``."""
    import mmengine.runner.checkpoint as mmengine_checkpoint
    prefix = 'testremote://'

    def load(filename, map_location=None):
        local = tmp_path / filename[len(prefix):]
        fork_loader = getattr(mmengine_checkpoint, '_safe_torch_load', None)
        if fork_loader is not None:
            return fork_loader(str(local), map_location=map_location)
        return torch.load(str(local), map_location=map_location)

    CheckpointLoader.register_scheme(prefixes=prefix, loader=load, force=True)
    yield prefix
    CheckpointLoader._schemes.pop(prefix)


def test_code_in_a_remote_checkpoint_is_refused_and_does_not_run(tmp_path, remote_scheme):
    marker = tmp_path / 'ran'
    save_with(tmp_path, 'evil.pth', FileMaker(marker))
    with checkpoint_loading(), pytest.raises(UnsafeCheckpointError) as err:
        _load_checkpoint(remote_scheme + 'evil.pth', map_location='cpu')
    assert not marker.exists()
    assert 'download it and load the local file with --unsafe-load' in str(err.value)
    save_with(tmp_path, 'plain.pth', 'only data')
    with checkpoint_loading():
        ckpt = _load_checkpoint(remote_scheme + 'plain.pth', map_location='cpu')
    assert ckpt['meta']['note'] == 'only data'


def test_a_foreign_class_is_refused_by_name(tmp_path):
    path = save_with(tmp_path, 'note.pth', TrustedNote('mine'))
    with pytest.raises(UnsafeCheckpointError, match=r'TrustedNote.*--unsafe-load'):
        load_checkpoint_file(str(path))


def test_unsafe_opt_in_unpickles_the_trusted_object(tmp_path):
    path = save_with(tmp_path, 'note.pth', TrustedNote('mine'))
    with checkpoint_loading(unsafe=True):
        ckpt = _load_checkpoint(str(path), map_location='cpu')
    assert isinstance(ckpt['meta']['note'], TrustedNote) and ckpt['meta']['note'].text == 'mine'
    marker = tmp_path / 'ran'
    load_checkpoint_file(str(save_with(tmp_path, 'evil.pth', FileMaker(marker))), unsafe=True)
    assert marker.exists()  # the opt-in really is full unpickling


@pytest.mark.slow
def test_runner_checkpoints_load_safely(trained):
    before = torch.serialization.get_safe_globals()
    for name in ('epoch_1.pth', 'numpy_meta.pth'):
        with pytest.raises(Exception):  # what the allowlist adds is needed
            torch.load(trained / name, map_location='cpu', weights_only=True)
        ckpt = load_checkpoint_file(str(trained / name), map_location='cpu')
        assert {'meta', 'state_dict', 'message_hub', 'optimizer'} <= set(ckpt)
    assert ckpt['meta']['score'] == np.float32(0.5) and ckpt['meta']['hist'].tolist() == [0, 1, 2]
    hub = ckpt['message_hub']
    assert hub['runtime_info']['np_scalar'] == 0.25
    assert len(hub['log_scalars']['train/loss'].data[0]) > 0
    # Allowed only while loading: nothing of the allowlist stays behind. (torch registers some
    # of its own classes lazily, at first use, so the list as a whole may grow meanwhile.)
    ours = allowed_checkpoint_globals()
    leaked = [g for g in torch.serialization.get_safe_globals() if g in ours and g not in before]
    assert leaked == []


@pytest.mark.slow
def test_resume_and_test_from_a_runner_checkpoint(trained, tmp_path):
    original = CheckpointLoader.__dict__['load_checkpoint']
    runner = toy_runner(tmp_path, 'toy_resume', max_epochs=2, resume=True,
                        load_from=str(trained / 'epoch_1.pth'))
    with checkpoint_loading():
        runner.train()
    assert runner.epoch == 2 and (tmp_path / 'epoch_2.pth').is_file()
    assert len(runner.message_hub.get_scalar('train/loss').data[0]) > 2  # history resumed
    tester = toy_runner(tmp_path / 'test', 'toy_test', load_from=str(tmp_path / 'epoch_2.pth'))
    with checkpoint_loading():
        metrics = tester.test()
    assert np.isfinite(metrics['mean_pred'])
    assert CheckpointLoader.__dict__['load_checkpoint'] is original
    assert ENV_SWITCH not in os.environ


def test_stock_mmdet_checkpoint_loads(tmp_path):
    runner = toy_runner(tmp_path, 'toy_stock')
    state = OrderedDict((k, torch.full_like(v, 0.5)) for k, v in runner.model.state_dict().items())
    path = tmp_path / 'stock.pth'
    torch.save(dict(state_dict=state, meta=dict(epoch=12, iter=7000, mmdet_version='3.3.0',
                                                CLASSES=('a', 'b'), config='model = dict()',
                                                dataset_meta=dict(classes=('a', 'b')))), path)
    with checkpoint_loading():
        runner.load_checkpoint(str(path), map_location='cpu')
    assert torch.equal(runner.model.linear.weight, torch.full((1, 2), 0.5))


def test_getattr_is_allowed_only_for_history_buffer_statistics(tmp_path):
    path = tmp_path / 'stat.pth'
    torch.save(dict(meta=dict(stat=HistoryBuffer.mean)), path)  # getattr(HistoryBuffer, 'mean')
    assert load_checkpoint_file(str(path))['meta']['stat'] is HistoryBuffer.mean
    torch.save(dict(meta=dict(method=HistoryBuffer.update)), path)
    with pytest.raises(UnsafeCheckpointError, match='builtins.getattr'):
        load_checkpoint_file(str(path))


def test_numpy1_module_paths_load(tmp_path):
    """Checkpoints written under numpy 1 name ``numpy.core.multiarray`` (numpy 2: ``_core``)."""
    path = tmp_path / 'numpy1.pth'
    torch.save(dict(meta=dict(loss=np.float64(0.5), hist=np.arange(2))), path,
               _use_new_zipfile_serialization=False)  # legacy format: the pickle is plain bytes
    data = path.read_bytes()
    assert b'numpy._core.multiarray\n' in data
    path.write_bytes(data.replace(b'numpy._core.multiarray\n', b'numpy.core.multiarray\n'))
    meta = load_checkpoint_file(str(path))['meta']
    assert meta['loss'] == 0.5 and meta['hist'].tolist() == [0, 1]


@pytest.mark.slow
@pytest.mark.parametrize('kind', ['empty', 'truncated', 'junk'])
def test_unreadable_checkpoint_names_the_file(trained, tmp_path, kind):
    data = (trained / 'epoch_1.pth').read_bytes()
    content = dict(empty=b'', truncated=data[:len(data) // 2], junk=b'not a checkpoint')[kind]
    path = tmp_path / f'{kind}.pth'
    path.write_bytes(content)
    with checkpoint_loading(), pytest.raises(CheckpointError) as err:
        _load_checkpoint(str(path), map_location='cpu')
    assert str(path) in str(err.value) and not isinstance(err.value, UnsafeCheckpointError)


@pytest.mark.slow
def test_tool_refuses_code_in_a_checkpoint(tmp_path, repo_root):
    """tools/sweep_alpha.py loads right after building the model (no data needed)."""
    marker = tmp_path / 'ran'
    path = save_with(tmp_path, 'evil.pth', FileMaker(marker))
    cmd = [sys.executable, str(repo_root / 'tools/sweep_alpha.py'),
           str(repo_root / 'configs/minilvis/cascade_tde_r18_minilvis.py'), str(path),
           '--work-dir', str(tmp_path / 'work')]
    env = dict(os.environ, OMP_NUM_THREADS='1')
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0 and not marker.exists()
    assert 'UnsafeCheckpointError' in proc.stderr and 'io.open' in proc.stderr
    assert '--unsafe-load' in proc.stderr


@pytest.mark.parametrize('array, dtype', [(np.array(['a', 'b']), 'StrDType'),
                                          (np.array([b'x']), 'BytesDType'),
                                          (np.array([1, 'a'], dtype=object), 'ObjectDType')])
def test_numpy_arrays_of_strings_or_objects_are_named(tmp_path, array, dtype):
    """Issue 31: such arrays were refused with a garbled type name."""
    path = save_with(tmp_path, 'strings.pth', array)
    with pytest.raises(UnsafeCheckpointError) as err:
        load_checkpoint_file(str(path))
    assert (f'it holds numpy.dtypes.{dtype} (a numpy array of strings, bytes or Python objects; '
            'only numeric ones load), which is not among' in str(err.value))
    assert 'rerun with --unsafe-load' in str(err.value)


def test_the_teacher_follows_the_tools_unsafe_load(tmp_path):
    """Issue 31: the phase-II teacher, which the model loads itself at its first training step,
    was refused even with ``--unsafe-load``, which the refusal told the user to pass."""
    from mmdet_tde.models.detectors.dual_phase import DualPhaseTeacherMixin
    source = nn.Linear(2, 1)
    path = tmp_path / 'teacher.pth'
    torch.save(dict(state_dict=source.state_dict(), meta=dict(note=TrustedNote('mine'))), path)

    def ready(**unsafe):
        model = SimpleNamespace(teacher=nn.Linear(2, 1), _teacher_loaded=False,
                                teacher_checkpoint=str(path))
        with checkpoint_loading(**unsafe):
            return DualPhaseTeacherMixin._ready_teacher(model, torch.device('cpu'))

    with pytest.raises(UnsafeCheckpointError, match='rerun with --unsafe-load'):
        ready()
    with pytest.raises(UnsafeCheckpointError):
        ready(unsafe=False)
    assert torch.equal(ready(unsafe=True).weight, source.weight)
    # outside a block the safe default holds again
    with pytest.raises(UnsafeCheckpointError):
        load_checkpoint_file(str(path))
