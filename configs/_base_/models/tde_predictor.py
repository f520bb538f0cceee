# The paper's LVIS hyper-parameters for the box classifier ("Long-Tailed Classification by Keeping
# the Good and Removing the Bad Momentum Causal Effect", NeurIPS 2020, arXiv:2009.12991, Sec. 5):
# K=2 heads, tau=16, gamma=1/32, alpha=1.5; head-direction momentum as the SGD momentum (0.9).
# alpha, use_tde and background_exempted act at inference only: change them without retraining.
tde_predictor = dict(
    type='CausalNormPredictor',
    num_heads=2,
    tau=16.0,
    gamma=1 / 32,
    alpha=1.5,
    momentum=0.9,
    norm='deconfound',
    use_tde=True,
    background_exempted=True)
