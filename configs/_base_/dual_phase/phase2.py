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
    # ours, from the long-tail comparison; 1.0, False and 'labelled': the paper's Eq. 6-8
    graph_temperature=0.05,
    graph_normalize=True,  # distances between unit features
    graph_nodes='labelled_and_ignored',  # + the phase-I objects phase II leaves unlabelled
    intra_loss_weight=1.0,
    margin=0.5,
    num_negatives=2,
    intra_scores='head',  # the head's own scores ('cosine': cosines with the weight rows)
    head_direction='update')  # TDE heads: 'keep_phase1' keeps phase I's head direction
