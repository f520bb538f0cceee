"""The benchmark scripts are files, not a package: their tests load them by path."""
import importlib.util


def load_benchmark(repo_root, name):
    """``benchmarks/<name>.py`` as a module."""
    spec = importlib.util.spec_from_file_location(name, repo_root / 'benchmarks' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
