"""What runs models over data outside mmengine's training loop (the alpha and tau sweeps, the
dual-phase memory and input checks) and the tools' config edits (TDE and logit-adjustment
settings): the layer that may import models, datasets and evaluation."""
from .alpha_sweep import (LOGIT_ADJUSTMENT_TAU, TDE_ALPHA, AlphaSweep, LogitAdjustmentSweep,
                          OnePassSweep, SweptSetting, capture_box_stage, check_sweepable,
                          run_alpha_sweep, run_logit_adjustment_sweep, sweep_ap_change)
from .cli_args import (add_logit_adjustment_args, alpha_arg, apply_logit_adjustment_args,
                       check_logit_adjustment_args, tau_arg)
from .logit_adjustment_config import (LOGIT_ADJUSTED_HEAD_TYPES, set_logit_adjustment,
                                      train_class_counts_cfg, train_classes)
from .sweep_errors import enable_tide, sweep_errors
from .tde_config import (TDE_HEAD_TYPES, check_head_directions, default_predictor_cfg,
                         set_tde_inference)

__all__ = [
    'AlphaSweep', 'LOGIT_ADJUSTED_HEAD_TYPES', 'LOGIT_ADJUSTMENT_TAU', 'LogitAdjustmentSweep',
    'OnePassSweep', 'SweptSetting', 'TDE_ALPHA', 'TDE_HEAD_TYPES', 'add_logit_adjustment_args',
    'alpha_arg', 'apply_logit_adjustment_args', 'capture_box_stage', 'check_head_directions',
    'check_logit_adjustment_args', 'check_sweepable', 'default_predictor_cfg', 'enable_tide',
    'run_alpha_sweep', 'run_logit_adjustment_sweep', 'set_logit_adjustment', 'set_tde_inference',
    'sweep_ap_change', 'sweep_errors', 'tau_arg', 'train_class_counts_cfg', 'train_classes'
]
