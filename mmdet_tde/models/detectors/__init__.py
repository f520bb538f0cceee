from .dual_phase import DualPhaseCascadeRCNN, DualPhaseMaskRCNN, DualPhaseTeacherMixin

__all__ = ['DualPhaseCascadeRCNN', 'DualPhaseMaskRCNN', 'DualPhaseTeacherMixin']
