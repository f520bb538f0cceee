"""requirements/check_env.py and tools/install.sh choose the MMDetection stack by MMDET_STACK
(unset: the installed one), refuse an unknown one by name, and refuse to install one stack over
the other (both ship mmcv, mmengine and mmdet)."""
import importlib.metadata as metadata
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # every test runs check_env.py or install.sh in a process

# The distribution each stack installs the `mmdet` package from.
MMDET_DISTRIBUTION = {'openmmlab': 'mmdet', 'onedl': 'onedl-mmdetection'}


def installed_stack():
    found = []
    for stack, dist in MMDET_DISTRIBUTION.items():
        try:
            found.append((stack, metadata.version(dist)))
        except metadata.PackageNotFoundError:
            pass
    assert len(found) == 1, f'expected exactly one stack installed, found {found}'
    return found[0]


def run(repo_root, args, stack):
    env = {key: value for key, value in os.environ.items() if key != 'MMDET_STACK'}
    if stack is not None:
        env['MMDET_STACK'] = stack
    return subprocess.run(args, cwd=repo_root, env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize('command', [
    [sys.executable, 'requirements/check_env.py', '--verbose'],
    ['bash', 'tools/install.sh'],
])
def test_unknown_stack_is_refused_with_the_allowed_values(repo_root, command):
    done = run(repo_root, command, 'mmdet33')
    assert done.returncode != 0
    assert "MMDET_STACK='mmdet33'" in done.stderr
    assert 'allowed values: openmmlab, onedl' in done.stderr
    assert 'Successfully installed' not in done.stdout


def test_the_installed_stack_has_no_conflict_and_the_other_one_has(repo_root):
    stack, version = installed_stack()
    other = next(name for name in MMDET_DISTRIBUTION if name != stack)
    done = run(repo_root, [sys.executable, 'requirements/check_env.py', '--conflicts'], stack)
    assert done.returncode == 0 and done.stdout == ''
    done = run(repo_root, [sys.executable, 'requirements/check_env.py', '--conflicts'], other)
    assert done.returncode == 1
    assert f'{MMDET_DISTRIBUTION[stack]} {version} of the {stack!r} stack is installed' \
        in done.stdout


def test_install_refuses_to_mix_stacks(repo_root):
    stack, _ = installed_stack()
    other = next(name for name in MMDET_DISTRIBUTION if name != stack)
    done = run(repo_root, ['bash', 'tools/install.sh'], other)
    assert done.returncode == 2
    assert f'refusing to install the {other} stack over another one' in done.stderr
    assert 'Successfully installed' not in done.stdout


@pytest.mark.parametrize('stack', list(MMDET_DISTRIBUTION))
def test_print_stack_names_the_mmcv_to_build(repo_root, stack):
    done = run(repo_root, [sys.executable, 'requirements/check_env.py', '--print-stack'], stack)
    expected = {'openmmlab': 'mmcv==2.1.0', 'onedl': 'onedl-mmcv==2.3.6'}[stack]
    assert done.returncode == 0 and done.stdout.split() == [expected, stack]


def test_unset_stack_is_the_installed_one(repo_root):
    stack, _ = installed_stack()
    done = run(repo_root, [sys.executable, 'requirements/check_env.py', '--print-stack'], None)
    assert done.returncode == 0 and done.stdout.split()[1] == stack
