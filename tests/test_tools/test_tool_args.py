"""Bad command-line values are usage errors (exit 2 with a message), caught before any work."""
import importlib.util
import sys

import pytest
import torch


def _parse(repo_root, tool, argv, monkeypatch):
    spec = importlib.util.spec_from_file_location(f'tool_{tool}', repo_root / 'tools' / tool)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(sys, 'argv', [tool] + argv)
    monkeypatch.setenv('LOCAL_RANK', '0')  # the tools set it when missing
    return module.parse_args()


@pytest.mark.parametrize('tool, argv, message', [
    ('test.py', ['--tde-alpha', '-1'], 'alpha must be a finite number >= 0, got -1.0'),
    ('test.py', ['--tde-alpha', 'inf'], 'alpha must be a finite number >= 0, got inf'),
    ('test.py', ['--tde-alpha', 'x'], "could not convert string to float: 'x'"),
    ('sweep_alpha.py', ['--alphas', '0', 'nan'], 'alpha must be a finite number >= 0, got nan'),
    ('sweep_alpha.py', ['--alphas', 'inf'], 'alpha must be a finite number >= 0, got inf'),
    # issue 31: a value given twice would be evaluated twice into one folder
    ('sweep_alpha.py', ['--alphas', '1', '1', '1'],
     '--alphas must be distinct, got 1 more than once'),
    ('sweep_alpha.py', ['--alphas', '0', '1.5', '1.50', '-0', '2'],
     '--alphas must be distinct, got 0, 1.5 more than once'),
])
def test_bad_alpha_is_an_argparse_error(repo_root, tool, argv, message, monkeypatch, capsys):
    with pytest.raises(SystemExit) as exit_info:
        _parse(repo_root, tool, ['config.py', 'ckpt.pth'] + argv, monkeypatch)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_good_alphas_parse(repo_root, monkeypatch):
    args = _parse(repo_root, 'sweep_alpha.py', ['c.py', 'k.pth', '--alphas', '0', '1.5'],
                  monkeypatch)
    assert args.alphas == [0.0, 1.5]
    assert _parse(repo_root, 'test.py', ['c.py', 'k.pth', '--tde-alpha', '2'],
                  monkeypatch).tde_alpha == 2.0


@pytest.mark.parametrize('tool, argv, message', [
    ('test.py', ['--logit-adjust', 'nan'], 'tau must be a finite number >= 0, got nan'),
    ('test.py', ['--logit-adjust', '-0.5'], 'tau must be a finite number >= 0, got -0.5'),
    ('test.py', ['--logit-adjust', '1', '--logit-adjust-form', 'soft'],
     "invalid choice: 'soft'"),
    ('test.py', ['--logit-adjust-form', 'plain'],
     '--logit-adjust-form apply only with --logit-adjust'),
    ('test.py', ['--class-counts-file', 'a.json', '--class-counts-source', 'annotations'],
     '--class-counts-file, --class-counts-source apply only with --logit-adjust'),
    ('test.py', ['--logit-adjust', '1', '--tde', 'on'], '--logit-adjust takes the place of TDE'),
    ('test.py', ['--logit-adjust', '1', '--tde-alpha', '2'], '--tde-alpha'),
    ('sweep_alpha.py', ['--logit-adjust-taus', '0', 'inf'],
     'tau must be a finite number >= 0, got inf'),
    ('sweep_alpha.py', ['--logit-adjust-taus', '0', '1', '--alphas', '0', '1'],
     '--alphas and --logit-adjust-taus: one sweep per run'),
    ('sweep_alpha.py', ['--logit-adjust-taus', '0.5', '1', '0.5'],
     '--logit-adjust-taus must be distinct, got 0.5 more than once'),
    ('sweep_alpha.py', ['--allow-missing-head-direction'],
     '--allow-missing-head-direction applies only with --logit-adjust-taus'),
    ('sweep_alpha.py', ['--class-counts-source', 'annotations'],
     '--class-counts-source apply only with --logit-adjust-taus'),
])
def test_bad_logit_adjustment_options_are_argparse_errors(repo_root, tool, argv, message,
                                                          monkeypatch, capsys):
    with pytest.raises(SystemExit) as exit_info:
        _parse(repo_root, tool, ['config.py', 'ckpt.pth'] + argv, monkeypatch)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_logit_adjustment_options_parse(repo_root, monkeypatch):
    args = _parse(repo_root, 'test.py', ['c.py', 'k.pth', '--logit-adjust', '1.5',
                                         '--logit-adjust-form', 'plain', '--tde', 'off'],
                  monkeypatch)
    assert (args.logit_adjust, args.logit_adjust_form, args.class_counts_file) == \
        (1.5, 'plain', None)
    args = _parse(repo_root, 'sweep_alpha.py', ['c.py', 'k.pth', '--logit-adjust-taus', '0', '1',
                                                '--class-counts-source', 'annotations'],
                  monkeypatch)
    assert (args.logit_adjust_taus, args.alphas, args.class_counts_source) == \
        ([0.0, 1.0], None, 'annotations')
    # without either sweep flag: the default alphas, as before
    assert _parse(repo_root, 'sweep_alpha.py', ['c.py', 'k.pth'], monkeypatch).alphas == \
        [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0]


@pytest.mark.skipif(torch.cuda.is_available(), reason='AMP is available with a GPU')
def test_amp_without_gpu_is_an_argparse_error(repo_root, monkeypatch, capsys):
    with pytest.raises(SystemExit) as exit_info:
        _parse(repo_root, 'train.py', ['config.py', '--amp'], monkeypatch)
    assert exit_info.value.code == 2
    assert '--amp needs a GPU' in capsys.readouterr().err
