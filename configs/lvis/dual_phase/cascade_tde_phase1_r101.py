# Dual-phase training with the TDE heads on LVIS v1.0, phase I: cascade_phase1_r101.py with the
# causal-norm classifier (phase-II columns masked) in every cascade stage; the head direction is
# tracked from the phase-I foreground. Workflow as for the linear heads (README, "Dual-phase
# training"), with these configs:
#   tools/dist_train.sh configs/lvis/dual_phase/cascade_tde_phase1_r101.py 8
_base_ = ['./cascade_phase1_r101.py', '../../_base_/models/tde_cascade_bbox_heads.py']
model = dict(
    roi_head=dict(bbox_head=[
        dict(head, num_classes=_base_.num_classes,
             cls_predictor_cfg=dict(head.cls_predictor_cfg, type='PhaseMaskedCausalNormPredictor',
                                    split_file=_base_.dual_phase_split))
        for head in _base_.tde_cascade_bbox_heads
    ]))
