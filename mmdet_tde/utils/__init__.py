"""Helpers below the models: safe checkpoint loading, the collectives of shared evaluation and
the tools' process handling. They import nothing of mmdet_tde but :mod:`mmdet_tde.fileio`."""
from .checkpoint import (CheckpointError, UnsafeCheckpointError, checkpoint_loading,
                         load_checkpoint_file, trusted_checkpoint_types)
from .cli import load_tool_config, run_tool, setup_cpu_distributed
from .process_group import SingleProcess, TorchProcessGroup, least_loaded_owners, run_in_processes

__all__ = [
    'CheckpointError', 'SingleProcess', 'TorchProcessGroup', 'UnsafeCheckpointError',
    'checkpoint_loading', 'least_loaded_owners', 'load_checkpoint_file', 'load_tool_config',
    'run_in_processes', 'run_tool', 'setup_cpu_distributed', 'trusted_checkpoint_types'
]
