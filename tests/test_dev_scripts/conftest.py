import importlib.util

import pytest


@pytest.fixture(scope='session')
def gpu_script(repo_root):
    """Load a program of .dev_scripts/gpu/ as a module: it is a script folder, not a package."""
    def load(name):
        spec = importlib.util.spec_from_file_location(
            f'gpu_{name}', repo_root / '.dev_scripts' / 'gpu' / f'{name}.py')
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    return load
