# The TDE box classifier (paper Eq. 7-9) with the paper's LVIS hyper-parameters, for a box head's
# cls_predictor_cfg. They are CausalNormPredictor's own defaults, written out so that a config,
# and the copy of it that training leaves in the work dir, says what the model ran with;
# tests/test_configs.py fails if the two part. docs/method.md explains each value.
tde_predictor = dict(
    type='CausalNormPredictor',
    num_heads=2,
    tau=16.0,
    gamma=1 / 32,
    # alpha, use_tde and background_exempted act at inference only: tools/test.py changes them
    # on a trained checkpoint (--tde-alpha, --tde off)
    alpha=1.5,
    momentum=0.9,
    norm='deconfound',
    use_tde=True,
    background_exempted=True)
