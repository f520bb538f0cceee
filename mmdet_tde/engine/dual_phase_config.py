"""The dual-phase changes to a Cascade Mask R-CNN config, stated once as functions.

Phase I and phase II change the same keys of whichever detector config they start from. The
shipped configs (configs/lvis/dual_phase/, configs/minilvis/dual_phase/) write these changes out
so that a reader sees the model; tests/test_dual_phase_configs.py checks that each of them
resolves to what these functions make of its detector config. The phase-II loss
hyper-parameters are the RoI head's defaults, read from its signature (their one home).
"""
import inspect

from mmdet_tde.models.roi_heads import DualPhaseCascadeRoIHead, DualPhaseRoIHeadMixin


def phase1_model(model, split_file: str, ignore_iof_thr: float) -> dict:
    """Phase I: phase-II classifier columns masked; the RPN and every R-CNN assigner ignore
    proposals covered by an ignored (phase-II) object, so rare objects never become background.
    """
    return dict(
        roi_head=dict(bbox_head=[
            dict(head, cls_predictor_cfg=dict(type='PhaseMaskedLinear', split_file=split_file))
            for head in model.roi_head.bbox_head
        ]),
        train_cfg=dict(
            rpn=dict(assigner=dict(ignore_iof_thr=ignore_iof_thr)),
            rcnn=[
                dict(stage, assigner=dict(stage.assigner, ignore_iof_thr=ignore_iof_thr))
                for stage in model.train_cfg.rcnn
            ]))


def phase2_model(model, split_file: str, teacher_config: str, teacher_checkpoint: str) -> dict:
    """Phase II: all columns (the phase-II rows start from ``dual_phase_phase2_init.pth``), the
    frozen phase-I model as teacher, the student's batch norm on its running statistics as the
    teacher's, the graph-matching and intra-class margin losses."""
    return dict(
        type='DualPhaseCascadeRCNN',
        teacher_config=teacher_config,
        teacher_checkpoint=teacher_checkpoint,
        backbone=dict(norm_eval=True),
        roi_head=dict(
            type=DualPhaseCascadeRoIHead.__name__,
            split_file=split_file,
            **_loss_defaults(),
            bbox_head=[
                dict(head, cls_predictor_cfg=dict(type='Linear'))
                for head in model.roi_head.bbox_head
            ]))


def _loss_defaults() -> dict:
    """``graph_loss_weight`` (None: lambda = sqrt(C1 / C2) from the split), ``graph_reduction``,
    ``graph_loss_form``, ``graph_temperature``, ``graph_normalize``, ``intra_loss_weight``,
    ``margin``, ``num_negatives``, ``intra_scores``: the RoI head's defaults."""
    params = inspect.signature(DualPhaseRoIHeadMixin.__init__).parameters.values()
    return {p.name: p.default for p in params if p.default is not p.empty}
