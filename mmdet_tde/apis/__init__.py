from .alpha_sweep import (AlphaSweep, capture_box_stage, check_sweepable, run_alpha_sweep,
                          sweep_ap_change)

__all__ = [
    'AlphaSweep', 'capture_box_stage', 'check_sweepable', 'run_alpha_sweep', 'sweep_ap_change'
]
