"""Bad inputs of tools/test.py (issue 31): a checkpoint that leaves the TDE classifiers of its
config without a head direction (a baseline checkpoint with a TDE config) is refused, where it
printed the metrics of an untrained classifier with only a "missing keys" log line
(``--allow-missing-head-direction`` forces the test), and so does the logit-adjustment sweep; an
unusable ``--out`` is refused before the test."""
import importlib.util
import json
import sys

import pytest
import torch
from mmengine.config import Config

from mmdet.registry import MODELS

from mmdet_tde.engine import check_head_directions
from mmdet_tde.testing import MiniLVISOptions, make_minilvis

TDE_CONFIG = 'configs/minilvis/cascade_tde_r18_minilvis.py'
BASELINE_CONFIG = 'configs/minilvis/cascade_baseline_r18_minilvis.py'


def run_test_tool(repo_root, argv, monkeypatch, tool='test.py'):
    """The tool's main in this process; the message it exits with, or None."""
    spec = importlib.util.spec_from_file_location(f'tool_{tool}', repo_root / 'tools' / tool)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(sys, 'argv', [tool] + [str(a) for a in argv])
    try:
        module.run_tool(module.main)
    except SystemExit as exit_info:
        return str(exit_info.code)
    return None


@pytest.fixture(scope='module')
def baseline(tmp_path_factory, repo_root):
    root = tmp_path_factory.mktemp('head_direction')
    make_minilvis(str(root / 'data/minilvis'), MiniLVISOptions(seed=3, num_train=4, num_val=1),
                  progress=lambda *a: None)
    model = MODELS.build(Config.fromfile(str(repo_root / BASELINE_CONFIG)).model)
    checkpoint = root / 'baseline.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), checkpoint)
    return root, checkpoint


def test_a_baseline_checkpoint_is_refused_for_a_tde_config(baseline, repo_root, monkeypatch):
    root, checkpoint = baseline
    monkeypatch.chdir(root)
    work = root / 'refused'
    argv = [repo_root / TDE_CONFIG, checkpoint, '--work-dir', work, '--cfg-options',
            'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False']
    message = run_test_tool(repo_root, argv, monkeypatch)
    assert message is not None and f'checkpoint {checkpoint} has no head direction for 3 TDE' \
        in message
    assert 'head_direction is zero' in message and '--allow-missing-head-direction' in message
    assert not list(work.glob('*/*.json'))  # no metrics written
    # forced (with TDE off, which needs no head direction), it tests
    forced = root / 'forced'
    argv[3] = forced
    assert run_test_tool(repo_root, argv + ['--tde', 'off', '--allow-missing-head-direction'],
                         monkeypatch) is None
    metrics = [p for p in forced.glob('*/*.json') if p.name[:8].isdigit()]
    assert metrics and 'lvis/bbox_AP' in json.loads(metrics[0].read_text())


def test_the_logit_adjustment_sweep_refuses_it_too(baseline, repo_root, monkeypatch):
    root, checkpoint = baseline
    monkeypatch.chdir(root)
    message = run_test_tool(repo_root, [repo_root / TDE_CONFIG, checkpoint, '--work-dir',
                                        root / 'sweep', '--logit-adjust-taus', '0', '1'],
                            monkeypatch, tool='sweep_alpha.py')
    assert message is not None and 'has no head direction for 3 TDE classifier' in message
    assert '--allow-missing-head-direction' in message


def test_the_check_passes_a_model_whose_directions_are_trained(repo_root):
    model = MODELS.build(Config.fromfile(str(repo_root / TDE_CONFIG)).model)
    with pytest.raises(ValueError, match='has no head direction for 3 TDE classifier'):
        check_head_directions(model, 'x.pth')
    for stage in model.roi_head.bbox_head:
        stage.fc_cls.head_direction.fill_(1.0)
    check_head_directions(model, 'x.pth')
    model.roi_head.bbox_head[1].fc_cls.head_direction[0] = float('nan')
    with pytest.raises(ValueError, match=r'for 1 TDE classifier.*bbox_head\.1\.fc_cls: '
                                         'head_direction is not finite'):
        check_head_directions(model, 'x.pth')


def test_out_is_checked_before_the_test(tmp_path, repo_root, monkeypatch):
    checkpoint = tmp_path / 'model.pkl'
    checkpoint.write_bytes(b'not loaded')
    (tmp_path / 'file').write_text('')
    for out, problem in ((tmp_path / 'file/results.pkl', 'is a file, not a directory'),
                         (checkpoint, 'is also an input of this run')):
        message = run_test_tool(repo_root, [repo_root / TDE_CONFIG, checkpoint, '--out', out],
                                monkeypatch)
        assert message.startswith('error: ValueError: --out') and problem in message
    assert checkpoint.read_bytes() == b'not loaded'
