""".dev_scripts/gpu/gpu_check.sh refuses an unknown argument before it touches anything."""
import subprocess

import pytest


@pytest.mark.slow
def test_an_unknown_argument_is_refused_with_the_usage(repo_root, tmp_path):
    work = tmp_path / 'work'
    done = subprocess.run(
        ['bash', str(repo_root / '.dev_scripts' / 'gpu' / 'gpu_check.sh'), '--gpu'],
        env={'PATH': '/usr/bin:/bin', 'GPU_CHECK_WORK': str(work)}, capture_output=True,
        text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr == 'usage: bash .dev_scripts/gpu/gpu_check.sh [--cpu]\n'
    assert not work.exists()
