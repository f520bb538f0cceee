from .checkpoint import (CheckpointError, UnsafeCheckpointError, checkpoint_loading,
                         load_checkpoint_file, trusted_checkpoint_types)
from .cli import alpha_arg, load_tool_config, run_tool, setup_cpu_distributed
from .dual_phase_config import phase1_model, phase2_model
from .tde_config import (TDE_HEAD_TYPES, default_predictor_cfg, set_tde_inference,
                         tde_bbox_heads)

__all__ = [
    'CheckpointError', 'UnsafeCheckpointError', 'checkpoint_loading', 'load_checkpoint_file',
    'trusted_checkpoint_types', 'load_tool_config', 'run_tool', 'setup_cpu_distributed',
    'TDE_HEAD_TYPES', 'alpha_arg', 'default_predictor_cfg', 'set_tde_inference',
    'tde_bbox_heads', 'phase1_model', 'phase2_model'
]
