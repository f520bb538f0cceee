from .fast_lvis_metric import FastLVISMetric

__all__ = ['FastLVISMetric']
