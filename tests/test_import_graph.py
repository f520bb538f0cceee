"""The package's layers import downwards only, so that the method code (models) does not depend
on the code that configures and runs it, and the torch-free parts stay free of it."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / 'mmdet_tde'
# Each subpackage and the others it may import; its own modules it always may. Bottom-up.
ALLOWED = {
    'fileio': set(),
    'utils': {'fileio'},
    'models': {'fileio', 'utils'},
    'datasets': {'fileio', 'utils'},
    'evaluation': {'fileio', 'utils'},
    'testing': {'fileio', 'utils'},
    'engine': {'fileio', 'utils', 'models', 'datasets', 'evaluation'},
}
# Modules directly in mmdet_tde/: the package's __init__ registers every layer in mmdet.
TOP_LEVEL = {'mmdet_tde': set(ALLOWED) | {'mmdet_tde.version'}, 'mmdet_tde.version': set()}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix('').parts
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


def _is_module(name: str) -> bool:
    path = PACKAGE.parent.joinpath(*name.split('.'))
    return path.is_dir() or path.with_suffix('.py').is_file()


def package_imports(source: str, module: str, is_package: bool) -> set:
    """The ``mmdet_tde`` modules that ``source`` (the module ``module``) imports, at any depth
    (function-level imports included); ``from package import name`` counts as an import of the
    submodule ``package.name`` where that exists."""
    found = set()
    package = module if is_package else module.rpartition('.')[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split('.')[:len(package.split('.')) - node.level + 1]
                target = '.'.join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            found.add(target)
            found.update(f'{target}.{alias.name}' for alias in node.names
                         if _is_module(f'{target}.{alias.name}'))
    return {name for name in found if name.split('.')[0] == 'mmdet_tde'}


def layer(module: str) -> str:
    parts = module.split('.')
    return parts[1] if len(parts) > 1 and parts[1] in ALLOWED else module


def forbidden(module: str, imports: set) -> list:
    """The imports of ``module`` that go to a layer it may not import."""
    own = layer(module)
    allowed = TOP_LEVEL[own] if own in TOP_LEVEL else ALLOWED[own] | {own}
    return sorted(name for name in imports
                  if name != 'mmdet_tde' and layer(name) not in allowed)


def package_graph() -> dict:
    return {module_name(path): package_imports(path.read_text(), module_name(path),
                                               path.name == '__init__.py')
            for path in sorted(PACKAGE.rglob('*.py'))}


def test_every_module_has_a_layer():
    unplaced = sorted(m for m in package_graph() if layer(m) not in ALLOWED and m not in TOP_LEVEL)
    assert unplaced == [], f'modules outside the layers of {__name__}.ALLOWED: {unplaced}'


def test_layers_import_downwards_only():
    graph = package_graph()
    # The checker sees the package's known downward edges, so an empty result means something.
    assert 'mmdet_tde.utils' in graph['mmdet_tde.models.detectors.dual_phase']
    assert 'mmdet_tde.utils.process_group' in graph['mmdet_tde.evaluation.fast_lvis']
    assert 'mmdet_tde.models' in graph['mmdet_tde']
    violations = {m: bad for m, imports in graph.items() if (bad := forbidden(m, imports))}
    assert violations == {}


@pytest.mark.parametrize('module, is_package, source, expected', [
    # absolute, at module level: models may not import datasets
    ('mmdet_tde.models.roi_heads.x', False, 'from mmdet_tde.datasets import CLASSES\n',
     ['mmdet_tde.datasets']),
    # inside a function, and relative
    ('mmdet_tde.utils.x', False, 'def f():\n    from ..engine.cli_args import tau_arg\n',
     ['mmdet_tde.engine.cli_args']),
    # `from package import submodule` from a package __init__
    ('mmdet_tde.evaluation', True, 'from .. import engine\n', ['mmdet_tde.engine']),
    # plain import
    ('mmdet_tde.fileio.x', False, 'import mmdet_tde.utils.checkpoint\n',
     ['mmdet_tde.utils.checkpoint']),
    # allowed: downwards and within the layer
    ('mmdet_tde.engine.x', False, 'from mmdet_tde.models import layers\nfrom .cli_args import a\n',
     []),
])
def test_a_forbidden_import_is_found(module, is_package, source, expected):
    assert forbidden(module, package_imports(source, module, is_package)) == expected
