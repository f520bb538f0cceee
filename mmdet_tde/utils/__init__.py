from .checkpoint import (CheckpointError, UnsafeCheckpointError, checkpoint_loading,
                         load_checkpoint_file, trusted_checkpoint_types)
from .cli import (add_logit_adjustment_args, alpha_arg, apply_logit_adjustment_args,
                  check_logit_adjustment_args, load_tool_config, run_tool, setup_cpu_distributed,
                  tau_arg)
from .dual_phase_config import phase1_model, phase2_model
from .logit_adjustment_config import (LOGIT_ADJUSTED_HEAD_TYPES, set_logit_adjustment,
                                      train_class_counts_cfg, train_classes)
from .tde_config import (TDE_HEAD_TYPES, check_head_directions, default_predictor_cfg,
                         set_tde_inference, tde_bbox_heads)

__all__ = [
    'CheckpointError', 'UnsafeCheckpointError', 'checkpoint_loading', 'load_checkpoint_file',
    'trusted_checkpoint_types', 'load_tool_config', 'run_tool', 'setup_cpu_distributed',
    'TDE_HEAD_TYPES', 'alpha_arg', 'check_head_directions', 'default_predictor_cfg',
    'set_tde_inference', 'tde_bbox_heads', 'phase1_model', 'phase2_model',
    'LOGIT_ADJUSTED_HEAD_TYPES',
    'add_logit_adjustment_args', 'apply_logit_adjustment_args', 'check_logit_adjustment_args',
    'set_logit_adjustment', 'tau_arg', 'train_class_counts_cfg', 'train_classes'
]
