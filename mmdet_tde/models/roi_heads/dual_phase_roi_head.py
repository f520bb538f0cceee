"""RoI heads for phase II of dual-phase training: the box loss plus the paper's two extra terms.

"Asynchronous Modeling: a dual-phase perspective for long-tailed recognition" (ICLR 2021
submission, OpenReview u846Bqhry_), Eq. 9: phase II adds to the classification loss an
intra-class margin loss and lambda times a memory-retentive graph-matching loss between the
frozen phase-I model's features and the new ones. In a detector the "features" are the box
head's classification features (the input of ``fc_cls``) of the labelled boxes (by default also
of the ignored ones), per stage; the margin loss is taken on the foreground RoIs the head is
trained on.
"""
from contextlib import contextmanager
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmdet.models.roi_heads import CascadeRoIHead, StandardRoIHead
from mmdet.registry import MODELS
from mmdet.structures.bbox import bbox2roi, get_box_tensor

from mmdet_tde.fileio import load_split
from mmdet_tde.models.layers.causal_norm import CausalNormClassifier
from mmdet_tde.models.layers.dual_phase import (check_graph_options, feature_distillation_loss,
                                                graph_matching_loss, intra_margin_loss)

# 'graph': the paper's Eq. 6-8; 'distill': per-box 1 - cos(z_i, z_hat_i), the control (ours).
GRAPH_LOSS_FORMS = ('graph', 'distill')
# The boxes that are the retention term's nodes: 'labelled', the ground truth phase II trains on
# (the paper's D = M + X_2); 'labelled_and_ignored' adds the objects a phase-II image holds but
# does not label (phase-I objects outside the memory), which the teacher knows (ours).
GRAPH_NODES = ('labelled', 'labelled_and_ignored')
# The TDE heads' head direction in phase II: 'update', the moving average goes on over phase
# II's data; 'keep_phase1', it stays the phase-I model's (ours).
HEAD_DIRECTIONS = ('update', 'keep_phase1')


def graph_node_boxes(data_sample, graph_nodes: str) -> Tensor:
    """The boxes of one image that are graph nodes: its labelled ones, then (with
    ``'labelled_and_ignored'``) its ignored ones."""
    boxes = get_box_tensor(data_sample.gt_instances.bboxes)
    if graph_nodes == 'labelled':
        return boxes
    ignored = data_sample.get('ignored_instances')
    if ignored is None:
        raise ValueError("graph_nodes='labelled_and_ignored' needs each image's ignored "
                         'instances (data_sample.ignored_instances, which PackDetInputs packs '
                         'from gt_ignore_flags); this batch has none')
    return torch.cat([boxes, get_box_tensor(ignored.bboxes).to(boxes)])


@contextmanager
def classifier_inputs(bbox_head: nn.Module):
    """Collect what the box head feeds its classifier (``fc_cls``) while the block runs."""
    captured: List[Tensor] = []
    handle = bbox_head.fc_cls.register_forward_pre_hook(lambda _, args: captured.append(args[0]))
    try:
        yield captured
    finally:
        handle.remove()


def box_classifier_features(roi_head: nn.Module, stage: Optional[int], x,
                            rois: Tensor) -> Tensor:
    """What the box head of ``stage`` (None: a single-stage RoI head) feeds its classifier for
    ``rois``, through mmdet's own box forward."""
    bbox_head = roi_head.bbox_head if stage is None else roi_head.bbox_head[stage]
    with classifier_inputs(bbox_head) as captured:
        if stage is None:
            roi_head._bbox_forward(x, rois)
        else:
            roi_head._bbox_forward(stage, x, rois)
    return captured[-1]


def class_cosine_scores(features: Tensor, classifier: nn.Module, num_classes: int) -> Tensor:
    """Cosine of each feature with each foreground class's weight row (background left out)."""
    weight = classifier.weight[:num_classes]
    return F.normalize(features, dim=1) @ F.normalize(weight, dim=1).t()


def head_class_scores(features: Tensor, classifier: nn.Module, num_classes: int) -> Tensor:
    """The foreground scores the head classifies with, on the scale ``margin`` is meant for.

    A causal-norm classifier (the TDE heads): its Eq. 7 logits over ``tau``, a (per-head mean)
    normalised cosine in about [-1, 1] as in the paper's cosine classifier. A linear one: its
    logits ``w.x + b``, the scores mmdet's softmax ranks (the margin is then in logit units).
    """
    _check_head_classifier(classifier)
    if isinstance(classifier, CausalNormClassifier):
        return classifier.deconfounded_logits(features)[:, :num_classes] / classifier.tau
    return classifier(features)[:, :num_classes]


def _check_head_classifier(classifier: nn.Module) -> None:
    if not isinstance(classifier, (CausalNormClassifier, nn.Linear)):
        raise TypeError(f"intra_scores='head' supports nn.Linear and CausalNormClassifier box "
                        f"classifiers, got {type(classifier).__name__}; use intra_scores='cosine'")


def _freeze_head_directions(bbox_heads: List[nn.Module]) -> None:
    """Stop the head-direction updates of the heads' causal-norm classifiers; refuse heads
    without one, where ``head_direction='keep_phase1'`` would do nothing."""
    classifiers = [h.fc_cls for h in bbox_heads if isinstance(h.fc_cls, CausalNormClassifier)]
    if not classifiers:
        raise ValueError("head_direction='keep_phase1' needs TDE box heads (a causal-norm "
                         'classifier as fc_cls); the box classifiers are '
                         f'{sorted({type(h.fc_cls).__name__ for h in bbox_heads})}')
    for classifier in classifiers:
        classifier.track_head_direction = False


# How L_intra scores a RoI: 'head', the scores the head uses; 'cosine', the cosine with each
# class's weight row whatever the head (what this plugin did first; a linear head never uses it).
INTRA_SCORES = {'head': head_class_scores, 'cosine': class_cosine_scores}


class DualPhaseRoIHeadMixin:
    """Adds ``loss_graph`` and ``loss_intra`` to each box stage's losses in phase II.

    The detector (:class:`DualPhaseTeacherMixin`) lends the frozen phase-I model's RoI head and
    image features for the duration of a loss computation (:meth:`teacher_context`).

    Args:
        split_file: the dual-phase split; its lambda = sqrt(C1 / C2) weighs the graph loss.
        graph_loss_weight: overrides the split's lambda.
        graph_reduction: 'mean' over the boxes (default) or 'sum', Eq. 8 literally.
        graph_loss_form: 'graph' (Eq. 6-8) or 'distill' (per-box 1 - cos(z_i, z_hat_i), the
            control; ignores the temperature and normalize options).
        graph_temperature, graph_normalize: :func:`graph_matching_loss`'s ``temperature`` and
            ``normalize``; the defaults (0.05, unit features) beat the paper's literal form
            (1.0 and False) on the long-tail comparison (docs/dual_phase.md).
        intra_loss_weight, margin, num_negatives: the intra-class margin loss.
        intra_scores: what the margin loss ranks: 'head' (the head's own scores, see
            :func:`head_class_scores`) or 'cosine' (feature-to-weight-row cosines).
        graph_nodes: the boxes whose features are the retention term's nodes, one of
            :data:`GRAPH_NODES`; the paper's are ``'labelled'``.
        head_direction: one of :data:`HEAD_DIRECTIONS`; ``'keep_phase1'`` freezes the head
            direction of every causal-norm classifier (the TDE heads) at the one phase II starts
            from, the phase-I model's.
    """

    def __init__(self, *args, split_file: str, graph_loss_weight: Optional[float] = None,
                 graph_reduction: str = 'mean', graph_loss_form: str = 'graph',
                 graph_temperature: float = 0.05, graph_normalize: bool = True,
                 intra_loss_weight: float = 1.0, margin: float = 0.5, num_negatives: int = 2,
                 intra_scores: str = 'head', graph_nodes: str = 'labelled_and_ignored',
                 head_direction: str = 'update', **kwargs):
        for name, value, allowed in (('intra_scores', intra_scores, tuple(INTRA_SCORES)),
                                     ('graph_loss_form', graph_loss_form, GRAPH_LOSS_FORMS),
                                     ('graph_nodes', graph_nodes, GRAPH_NODES),
                                     ('head_direction', head_direction, HEAD_DIRECTIONS)):
            if value not in allowed:
                raise ValueError(f'{name} must be one of {allowed}, got {value!r}')
        try:
            check_graph_options(graph_temperature, graph_normalize)
        except ValueError as err:  # name the RoI head's fields, not the function's
            raise ValueError(f'graph_{err}') from None
        super().__init__(*args, **kwargs)
        split = load_split(split_file)
        self.graph_loss_weight = (split['loss_lambda'] if graph_loss_weight is None
                                  else float(graph_loss_weight))
        self.graph_reduction = graph_reduction
        self.graph_loss_form = graph_loss_form
        self.graph_temperature = graph_temperature
        self.graph_normalize = graph_normalize
        self.intra_loss_weight = float(intra_loss_weight)
        self.margin = margin
        self.num_negatives = num_negatives
        self.intra_scores = intra_scores
        self.graph_nodes = graph_nodes
        self.head_direction = head_direction
        heads = self.bbox_head
        heads = list(heads) if isinstance(heads, nn.ModuleList) else [heads]
        if intra_scores == 'head':  # refuse an unsupported classifier when the model is built
            for head in heads:
                _check_head_classifier(head.fc_cls)
        if head_direction == 'keep_phase1':
            _freeze_head_directions(heads)
        self._teacher: Optional[Tuple[nn.Module, Tuple[Tensor]]] = None
        self._node_rois: Optional[Tensor] = None

    @contextmanager
    def teacher_context(self, teacher_roi_head: nn.Module, teacher_x: Tuple[Tensor]):
        self._teacher = (teacher_roi_head, teacher_x)
        try:
            yield
        finally:
            self._teacher = None

    def loss(self, x, rpn_results_list, batch_data_samples):
        if self._teacher is None:
            raise RuntimeError(f'{type(self).__name__} trains only inside a dual-phase detector '
                               '(e.g. DualPhaseCascadeRCNN), which provides the phase-I teacher')
        self._node_rois = bbox2roi([graph_node_boxes(s, self.graph_nodes)
                                    for s in batch_data_samples])
        try:
            return super().loss(x, rpn_results_list, batch_data_samples)
        finally:
            self._node_rois = None

    def _add_dual_phase_losses(self, stage: Optional[int], x, bbox_results: dict,
                               roi_features: Tensor) -> dict:
        bbox_head = self.bbox_head if stage is None else self.bbox_head[stage]
        labels = bbox_results['bbox_targets'][0]
        foreground = (labels >= 0) & (labels < bbox_head.num_classes)
        scores = INTRA_SCORES[self.intra_scores](roi_features[foreground], bbox_head.fc_cls,
                                                 bbox_head.num_classes)
        losses = bbox_results['loss_bbox']
        losses['loss_intra'] = self.intra_loss_weight * intra_margin_loss(
            scores, labels[foreground], self.margin, self.num_negatives)
        teacher_roi_head, teacher_x = self._teacher
        z_new = box_classifier_features(self, stage, x, self._node_rois)
        with torch.no_grad():
            z_old = box_classifier_features(teacher_roi_head, stage, teacher_x, self._node_rois)
        if self.graph_loss_form == 'distill':
            retention = feature_distillation_loss(z_old, z_new, self.graph_reduction)
        else:
            retention = graph_matching_loss(z_old, z_new, self.graph_reduction,
                                            self.graph_temperature, self.graph_normalize)
        losses['loss_graph'] = self.graph_loss_weight * retention
        return bbox_results


@MODELS.register_module()
class DualPhaseCascadeRoIHead(DualPhaseRoIHeadMixin, CascadeRoIHead):
    """mmdet's ``CascadeRoIHead`` with the phase-II losses in every stage (weighted by the
    stage's loss weight, as mmdet weighs each stage's box loss)."""

    def bbox_loss(self, stage, x, sampling_results):
        with classifier_inputs(self.bbox_head[stage]) as captured:
            bbox_results = super().bbox_loss(stage, x, sampling_results)
        return self._add_dual_phase_losses(stage, x, bbox_results, captured[-1])


@MODELS.register_module()
class DualPhaseStandardRoIHead(DualPhaseRoIHeadMixin, StandardRoIHead):
    """mmdet's ``StandardRoIHead`` (Mask R-CNN, Faster R-CNN) with the phase-II losses."""

    def bbox_loss(self, x, sampling_results):
        with classifier_inputs(self.bbox_head) as captured:
            bbox_results = super().bbox_loss(x, sampling_results)
        return self._add_dual_phase_losses(None, x, bbox_results, captured[-1])
