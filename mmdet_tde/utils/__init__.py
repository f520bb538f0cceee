from .checkpoint import (CheckpointError, UnsafeCheckpointError, checkpoint_loading,
                         load_checkpoint_file, trusted_checkpoint_types)
from .runtime import load_tool_config, setup_cpu_distributed
from .tde_options import TDE_HEAD_TYPES, alpha_arg, set_tde_inference

__all__ = [
    'CheckpointError', 'UnsafeCheckpointError', 'checkpoint_loading', 'load_checkpoint_file',
    'trusted_checkpoint_types', 'load_tool_config', 'setup_cpu_distributed', 'TDE_HEAD_TYPES',
    'alpha_arg', 'set_tde_inference'
]
