from .runtime import allow_trusted_checkpoints, load_tool_config, setup_cpu_distributed
from .tde_options import TDE_HEAD_TYPES, alpha_arg, set_tde_inference

__all__ = [
    'allow_trusted_checkpoints', 'load_tool_config', 'setup_cpu_distributed', 'TDE_HEAD_TYPES',
    'alpha_arg', 'set_tde_inference'
]
