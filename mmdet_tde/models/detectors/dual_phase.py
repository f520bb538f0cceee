"""Detectors for phase II of dual-phase training: the student plus the frozen phase-I teacher.

The teacher is the phase-I model, built from its config and loaded from its checkpoint. It is
kept out of the student's modules (a plain attribute, not a submodule), so it is not in the
state dict, the checkpoints, the optimizer or DDP; it always stays in eval mode and never
receives a gradient. Its only use is the graph-matching loss of the RoI head
(:class:`~mmdet_tde.models.roi_heads.DualPhaseRoIHeadMixin`).
"""
import os

import torch
from mmengine.config import Config
from torch import Tensor, nn

from mmdet.models.detectors import CascadeRCNN, MaskRCNN
from mmdet.registry import MODELS


class DualPhaseTeacherMixin:
    """Holds the phase-I teacher and lends it to the RoI head during :meth:`loss`.

    Args:
        teacher_config: the phase-I config file.
        teacher_checkpoint: the phase-I checkpoint, loaded at the first training step (so that
            the config builds, e.g. to inspect it, before phase I has run).
    """

    def __init__(self, *args, teacher_config: str, teacher_checkpoint: str, **kwargs):
        super().__init__(*args, **kwargs)
        if not os.path.isfile(teacher_config):
            raise FileNotFoundError(f'teacher_config not found: {teacher_config}')
        if not hasattr(self.roi_head, 'teacher_context'):
            raise TypeError(f'{type(self).__name__} needs a dual-phase RoI head (e.g. '
                            f'DualPhaseCascadeRoIHead), got {type(self.roi_head).__name__}')
        teacher = MODELS.build(Config.fromfile(teacher_config).model)
        teacher.requires_grad_(False)
        teacher.eval()
        self.teacher_checkpoint = teacher_checkpoint
        self._teacher_loaded = False
        # A list, not an attribute nn.Module would register: the teacher stays out of
        # state_dict(), parameters(), .to() and DDP.
        self._teacher = [teacher]

    @property
    def teacher(self) -> nn.Module:
        return self._teacher[0]

    def train(self, mode: bool = True):
        super().train(mode)
        self.teacher.eval()
        return self

    def _ready_teacher(self, device: torch.device) -> nn.Module:
        teacher = self.teacher
        if not self._teacher_loaded:
            if not os.path.isfile(self.teacher_checkpoint):
                raise FileNotFoundError(
                    f'teacher_checkpoint not found: {self.teacher_checkpoint} (the phase-I '
                    'checkpoint; train phase I first)')
            # Imported here: mmdet_tde.utils imports the models package this module is part of.
            from mmdet_tde.utils.checkpoint import load_checkpoint_file
            checkpoint = load_checkpoint_file(self.teacher_checkpoint, map_location='cpu')
            teacher.load_state_dict(checkpoint.get('state_dict', checkpoint), strict=True)
            self._teacher_loaded = True
        if next(teacher.parameters()).device != device:
            teacher.to(device)
        return teacher

    def loss(self, batch_inputs: Tensor, batch_data_samples) -> dict:
        teacher = self._ready_teacher(batch_inputs.device)
        with torch.no_grad():
            teacher_x = teacher.extract_feat(batch_inputs)
        with self.roi_head.teacher_context(teacher.roi_head, teacher_x):
            return super().loss(batch_inputs, batch_data_samples)


@MODELS.register_module()
class DualPhaseCascadeRCNN(DualPhaseTeacherMixin, CascadeRCNN):
    """Cascade (Mask) R-CNN for phase II of dual-phase training."""


@MODELS.register_module()
class DualPhaseMaskRCNN(DualPhaseTeacherMixin, MaskRCNN):
    """Mask R-CNN for phase II of dual-phase training."""
