from .causal_norm import (NORMS, CausalNormClassifier, background_exempted_log_probs,
                          background_exempted_probs, normalized_logits)
from .deconfound_conv import DeconfoundConv2d
from .dual_phase import (check_graph_options, feature_distillation_loss, graph_matching_loss,
                         intra_margin_loss, select_exemplars)
from .logit_adjustment import log_class_prior, logit_adjusted_scores, posthoc_logit_adjustment

__all__ = [
    'NORMS', 'CausalNormClassifier', 'DeconfoundConv2d', 'background_exempted_probs',
    'background_exempted_log_probs', 'normalized_logits', 'select_exemplars',
    'graph_matching_loss', 'feature_distillation_loss', 'check_graph_options',
    'intra_margin_loss', 'log_class_prior', 'logit_adjusted_scores',
    'posthoc_logit_adjustment'
]
