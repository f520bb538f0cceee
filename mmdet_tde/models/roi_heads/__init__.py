from .bbox_heads import *  # noqa: F401,F403
from .dual_phase_roi_head import (DualPhaseCascadeRoIHead, DualPhaseRoIHeadMixin,  # noqa: F401
                                  DualPhaseStandardRoIHead)
from .mask_heads import *  # noqa: F401,F403
