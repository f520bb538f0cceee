"""The changes the shipped configs write out, made here by functions from mmdet's heads and the
signatures of ours: the references the config tests compare the written-out configs with.

The TDE heads are mmdet's ConvFC heads with the causal-norm predictor at its defaults. Phase I
and phase II of dual-phase training change the same keys of whichever detector config they
start from; the phase-II loss hyper-parameters are the RoI head's defaults.
"""
import inspect

from mmdet_tde.engine.tde_config import TDE_HEAD_OF, TDE_HEAD_TYPES, default_predictor_cfg
from mmdet_tde.models.roi_heads import DualPhaseCascadeRoIHead, DualPhaseRoIHeadMixin


def tde_bbox_heads(bbox_head, **predictor):
    """A box head config, or a cascade's list of them, as TDE heads with ``predictor`` options.

    mmdet's ConvFC heads become their TDE namesakes with :func:`default_predictor_cfg`; TDE heads
    keep their predictor config. Either way ``predictor`` updates it, e.g. ``use_tde=False``.
    """
    if isinstance(bbox_head, (list, tuple)):
        return [tde_bbox_heads(head, **predictor) for head in bbox_head]
    head_type = bbox_head['type']
    if head_type in TDE_HEAD_TYPES:
        base = bbox_head.get('cls_predictor_cfg', default_predictor_cfg())
    elif head_type in TDE_HEAD_OF:
        base = default_predictor_cfg()
    else:
        raise ValueError(f'no TDE box head replaces {head_type!r}; supported: '
                         f'{sorted(TDE_HEAD_OF)} and their TDE heads')
    return dict(bbox_head, type=TDE_HEAD_OF.get(head_type, head_type),
                cls_predictor_cfg=dict(base, **predictor))


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
    teacher's, the graph-matching loss; no intra-class margin loss on the linear heads."""
    return dict(
        type='DualPhaseCascadeRCNN',
        teacher_config=teacher_config,
        teacher_checkpoint=teacher_checkpoint,
        backbone=dict(norm_eval=True),
        roi_head=dict(
            type=DualPhaseCascadeRoIHead.__name__,
            split_file=split_file,
            **dict(_loss_defaults(), intra_loss_weight=0.0),
            bbox_head=[
                dict(head, cls_predictor_cfg=dict(type='Linear'))
                for head in model.roi_head.bbox_head
            ]))


def _loss_defaults() -> dict:
    """``graph_loss_weight`` (None: lambda = sqrt(C1 / C2) from the split), ``graph_reduction``,
    ``graph_loss_form``, ``graph_temperature``, ``graph_normalize``, ``intra_loss_weight``,
    ``margin``, ``num_negatives``, ``intra_scores``, ``graph_nodes``, ``head_direction``: the
    RoI head's defaults."""
    params = inspect.signature(DualPhaseRoIHeadMixin.__init__).parameters.values()
    return {p.name: p.default for p in params if p.default is not p.empty}
