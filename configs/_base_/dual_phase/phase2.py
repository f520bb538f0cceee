# Phase II of dual-phase training ("Asynchronous Modeling: a dual-phase perspective for
# long-tailed recognition", ICLR 2021 submission, OpenReview u846Bqhry_): the RoI head every
# phase-II config of configs/*/dual_phase/ puts in its model, beside the phase-I config it
# continues. A variable, not a model: mmengine refuses a key that two bases both set.
# DualPhaseRoIHeadMixin's defaults, written out (docs/dual_phase.md explains each); a config
# adds the split file and its box heads.
dual_phase_roi_head = dict(
    type='DualPhaseCascadeRoIHead',
    graph_loss_weight=None,  # None: lambda = sqrt(C1 / C2), read from the split
    graph_reduction='mean',
    graph_loss_form='graph',  # 'distill': per-box 1 - cos, the control
    graph_temperature=1.0,  # 1.0 and False: the paper's literal Eq. 6-7
    graph_normalize=False,
    intra_loss_weight=1.0,
    margin=0.5,
    num_negatives=2,
    intra_scores='head')  # the head's own scores ('cosine': cosines with the weight rows)
