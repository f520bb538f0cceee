""".dev_scripts/gpu/env_report.py: its lines are the ones gpu_check_summary.py keeps for the
summary's machine section."""
from types import SimpleNamespace

import pytest


@pytest.fixture(scope='module')
def env_report(gpu_script):
    return gpu_script('env_report')


def fake_torch(available):
    cuda = SimpleNamespace(is_available=lambda: available,
                           get_device_name=lambda: 'NVIDIA H200',
                           get_device_capability=lambda: (9, 0))
    return SimpleNamespace(__version__='2.11.0+cu130', version=SimpleNamespace(cuda='13.0'),
                           cuda=cuda)


def test_a_gpu_is_reported_with_its_capability(env_report):
    lines = env_report.report_lines(fake_torch(True))
    assert len(lines) == 2
    assert lines[0].startswith('python 3.') and lines[0].endswith(
        'torch 2.11.0+cu130 cuda 13.0 available True')
    assert lines[1] == 'gpu NVIDIA H200 (9, 0)'


def test_no_gpu_line_without_cuda(env_report):
    assert len(env_report.report_lines(fake_torch(False))) == 1


def test_the_summary_keeps_the_report(env_report, gpu_script, tmp_path):
    (tmp_path / 'results').mkdir()
    lines = env_report.report_lines(fake_torch(True))
    noise = ['ninja 1.11', 'unrelated line']
    (tmp_path / 'results' / 'env.log').write_text('\n'.join(noise + lines) + '\n')
    text = gpu_script('gpu_check_summary').summary(tmp_path)
    assert lines[0] in text and lines[1] in text and 'unrelated line' not in text
