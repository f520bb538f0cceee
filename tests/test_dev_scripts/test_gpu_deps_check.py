""".dev_scripts/gpu/deps_check.py names every module that does not import, not just the first."""
import pytest


@pytest.fixture(scope='module')
def deps_check(gpu_script):
    return gpu_script('deps_check')


def test_every_failed_import_is_named(deps_check):
    lines, missing = deps_check.check(['json', 'no_such_module_a', 'csv', 'no_such_module_b'])
    assert missing == ['no_such_module_a', 'no_such_module_b']
    assert lines[0].startswith('json ') and 'json/__init__.py' in lines[0]
    assert lines[1].startswith('no_such_module_a') and 'FAILED: ModuleNotFoundError' in lines[1]
    assert len(lines) == 4


def test_exit_status_says_whether_all_imported(deps_check, capsys):
    assert deps_check.main(['json', 'csv']) == 0
    assert deps_check.main(['json', 'no_such_module_a']) == 1
    assert 'cannot import: no_such_module_a' in capsys.readouterr().err


def test_the_default_set_covers_the_kit_and_mmengine(deps_check):
    assert {'mmengine', 'lvis', 'hotcoco', 'faster_coco_eval', 'pycocotools', 'pkg_resources',
            'torch'} <= set(deps_check.MODULES)
