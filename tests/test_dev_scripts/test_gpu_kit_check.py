""".dev_scripts/gpu/kit_check.py: every requirement of every kit wheel, for the GPU machine's
Python on Linux, must be in the kit or on the device image."""
import zipfile

import pytest


@pytest.fixture(scope='module')
def kit_check(gpu_script):
    return gpu_script('kit_check')


def wheel(kit, name, *requires):
    path = kit / f'{name}-1.0-py3-none-any.whl'
    metadata = f'Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n' + ''.join(
        f'Requires-Dist: {req}\n' for req in requires)
    with zipfile.ZipFile(path, 'w') as z:
        z.writestr(f'{name}-1.0.dist-info/METADATA', metadata)
        # a vendored package's metadata one level down is not the wheel's own
        z.writestr(f'{name}/_vendor/other-1.0.dist-info/METADATA', 'Requires-Dist: nowhere\n')
    return path


def test_a_complete_kit_has_no_gaps(kit_check, tmp_path):
    wheel(tmp_path, 'alpha', 'beta>=1', 'numpy', 'opencv-python', 'PyYAML',
          'old; python_version < "3.8"', 'win; sys_platform == "win32"', 'extra; extra == "x"')
    wheel(tmp_path, 'beta')
    assert kit_check.gaps(tmp_path, '3.12') == []
    assert kit_check.main([str(tmp_path), '3.12']) == 0


def test_each_gap_is_named_for_the_target_python(kit_check, tmp_path, capsys):
    wheel(tmp_path, 'alpha', 'gamma>=2', 'newer; python_version >= "3.12"')
    assert kit_check.gaps(tmp_path, '3.12') == [
        'alpha-1.0-py3-none-any.whl: gamma>=2',
        'alpha-1.0-py3-none-any.whl: newer; python_version >= "3.12"']
    assert kit_check.gaps(tmp_path, '3.10') == ['alpha-1.0-py3-none-any.whl: gamma>=2']
    assert kit_check.main([str(tmp_path), '3.12']) == 1
    assert 'neither in the kit nor on the device image' in capsys.readouterr().err


def test_an_empty_kit_fails(kit_check, tmp_path, capsys):
    assert kit_check.main([str(tmp_path), '3.12']) == 1
    assert f'no wheels in {tmp_path}' in capsys.readouterr().err
