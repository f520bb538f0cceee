from .layers import *  # noqa: F401,F403

try:
    import mmdet  # noqa: F401
except ImportError:
    pass  # torch only: the layers above need nothing else
else:
    from .detectors import *  # noqa: F401,F403
    from .roi_heads import *  # noqa: F401,F403
