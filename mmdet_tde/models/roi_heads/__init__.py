from .bbox_heads import *  # noqa: F401,F403
from .mask_heads import *  # noqa: F401,F403
