from .dual_phase import DualPhaseLVISV05Dataset, DualPhaseLVISV1Dataset

__all__ = ['DualPhaseLVISV05Dataset', 'DualPhaseLVISV1Dataset']
