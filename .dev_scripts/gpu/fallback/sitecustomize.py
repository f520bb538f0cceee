"""The GPU check's fallback: on PYTHONPATH, every Python process routes RoIAlign and NMS on CUDA
tensors to torchvision (gpu_ops.py), for an mmcv built with CPU ops only.

A sitecustomize, so that the tools' training and test processes get it without any change.
"""
import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location('gpu_ops', Path(__file__).parents[1] / 'gpu_ops.py')
_gpu_ops = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_gpu_ops)
_gpu_ops.install_torchvision_fallback()
