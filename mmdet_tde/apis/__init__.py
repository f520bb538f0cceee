from .alpha_sweep import (LOGIT_ADJUSTMENT_TAU, TDE_ALPHA, AlphaSweep, LogitAdjustmentSweep,
                          OnePassSweep, SweptSetting, capture_box_stage, check_sweepable,
                          run_alpha_sweep, run_logit_adjustment_sweep, sweep_ap_change)

__all__ = [
    'AlphaSweep', 'LOGIT_ADJUSTMENT_TAU', 'LogitAdjustmentSweep', 'OnePassSweep', 'SweptSetting',
    'TDE_ALPHA', 'capture_box_stage', 'check_sweepable', 'run_alpha_sweep',
    'run_logit_adjustment_sweep', 'sweep_ap_change'
]
