"""Detectors for phase II of dual-phase training: the student plus the frozen phase-I teacher.

The teacher is the phase-I model, built from its config and loaded from its checkpoint. It is
kept out of the student's modules (a plain attribute, not a submodule), so it is not in the
state dict, the checkpoints, the optimizer or DDP; it always stays in eval mode and never
receives a gradient. Its only use is the graph-matching loss of the RoI head
(:class:`~mmdet_tde.models.roi_heads.DualPhaseRoIHeadMixin`).

Teacher and student must normalise with the same statistics: the teacher's batch-norm layers use
their running statistics (eval mode), so the student's must too (``norm_eval=True`` in its
backbone); otherwise identical weights give different features at the first phase-II step and
the graph loss pulls at features that have not changed. :meth:`loss` refuses the mismatch.
"""
import os

import torch
from mmengine.config import Config
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from mmdet.models.detectors import CascadeRCNN, MaskRCNN
from mmdet.registry import MODELS
from mmdet_tde.utils import load_checkpoint_file


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
            checkpoint = load_checkpoint_file(self.teacher_checkpoint, map_location='cpu')
            teacher.load_state_dict(checkpoint.get('state_dict', checkpoint), strict=True)
            self._teacher_loaded = True
        if next(teacher.parameters()).device != device:
            teacher.to(device)
        return teacher

    def _check_shared_norm_statistics(self) -> None:
        """Refuse student batch-norm layers that normalise with the batch's statistics."""
        in_train_mode = [name for name, m in self.named_modules()
                         if isinstance(m, _BatchNorm) and m.training and m.track_running_stats]
        if in_train_mode:
            shown = ', '.join(in_train_mode[:3]) + (', ...' if len(in_train_mode) > 3 else '')
            raise RuntimeError(
                f'{type(self).__name__}: batch-norm layers of the student are in train mode '
                f'({shown}) while the phase-I teacher normalises with its running statistics, '
                'so the graph loss would compare differently normalised features; set '
                'model.backbone.norm_eval=True (as the shipped phase-II configs do)')

    def loss(self, batch_inputs: Tensor, batch_data_samples) -> dict:
        teacher = self._ready_teacher(batch_inputs.device)
        self._check_shared_norm_statistics()
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
