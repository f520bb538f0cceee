# mini-LVIS, dual-phase training with the TDE heads, phase I: cascade_phase1_r18_minilvis.py with
# the causal-norm classifier (configs/_base_/models/tde_predictor.py), its phase-II columns
# masked, in every stage; the head direction is tracked from the phase-I foreground.
_base_ = ['./cascade_phase1_r18_minilvis.py', '../../_base_/models/tde_predictor.py']

model = dict(
    roi_head=dict(bbox_head=[
        dict(head, type='TDEShared2FCBBoxHead',
             cls_predictor_cfg=dict(_base_.tde_predictor, type='PhaseMaskedCausalNormPredictor',
                                    split_file=_base_.dual_phase_split))
        for head in _base_.model.roi_head.bbox_head
    ]))
