# The paper's LVIS hyper-parameters for the box classifier (000_9f08259b63e41578.txt, Sec. 5):
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
