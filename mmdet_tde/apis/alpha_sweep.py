"""Evaluate many TDE alphas from one pass of a model over the test set.

alpha only enters the classification scores (Eq. 8). With class-agnostic box regression the cascade
refinement does not depend on the class scores either, so the backbone, the RPN, the box stages,
their RoI features and the classifiers' alpha-free terms (logits and counterfactual logits) are
computed once per image; for each alpha only Eq. (8)-(9) are recombined and mmdet's own box
post-processing picks that alpha's detections. A detection's mask depends only on its box and label,
and every alpha draws its boxes from the same candidates, so the mask branch runs once per distinct
(box, label) pair: an alpha pays only for the detections the alphas before it did not have.
"""
import copy
import json
import os.path as osp
import time
from contextlib import contextmanager
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.dist import all_reduce, get_world_size, is_main_process
from mmengine.evaluator import Evaluator
from mmengine.logging import MMLogger
from mmengine.model import is_model_wrapper
from mmengine.structures import InstanceData
from mmengine.utils import ProgressBar

from mmdet.models.roi_heads import HybridTaskCascadeRoIHead

from mmdet_tde.evaluation.lvis_report import category_ap_change, largest_moves, save_ap_change
from mmdet_tde.models import CausalNormPredictor
from mmdet_tde.models.layers.options import check_option


def _bbox_heads(roi_head) -> list:
    heads = roi_head.bbox_head
    return list(heads) if isinstance(heads, torch.nn.ModuleList) else [heads]


def check_sweepable(model) -> None:
    """Every box head must be a TDE head with class-agnostic regression."""
    heads = _bbox_heads(model.roi_head)
    for i, head in enumerate(heads):
        if not isinstance(head.fc_cls, CausalNormPredictor):
            raise ValueError(f'box head {i} ({type(head).__name__}) has no CausalNormPredictor: '
                             'the alpha sweep needs TDE box heads in every stage')
        problem = head.fc_cls.head_direction_problem()
        if problem is not None:
            raise ValueError(f'box head {i}: {problem}: TDE is undefined')
        if len(heads) > 1 and not head.reg_class_agnostic:
            raise ValueError(f'box head {i} has class-specific regression: the cascade refinement '
                             'would depend on alpha; use reg_class_agnostic=True')


def _semantic_kwargs(roi_head, x):
    """The extra arguments HTC's predict_bbox and predict_mask take, as its predict passes them."""
    if not isinstance(roi_head, HybridTaskCascadeRoIHead):
        return {}, {}
    semantic_feat = roi_head.semantic_head(x)[1] if roi_head.with_semantic else None
    return dict(semantic_feat=semantic_feat), dict(semantic_heat=semantic_feat)


@contextmanager
def capture_box_stage(roi_head):
    """Record the classifier inputs of every stage and the last stage's post-processing inputs."""
    heads = _bbox_heads(roi_head)
    record = dict(features=[None] * len(heads))
    hooks = [
        head.fc_cls.register_forward_hook(
            lambda module, args, out, i=i: record['features'].__setitem__(i, args[0]))
        for i, head in enumerate(heads)
    ]
    last = heads[-1]
    original = last.predict_by_feat

    def predict_by_feat(**kwargs):
        record['post_process'] = kwargs
        return original(**kwargs)

    last.predict_by_feat = predict_by_feat
    try:
        yield record
    finally:
        del last.predict_by_feat
        for hook in hooks:
            hook.remove()


class MaskMemo:
    """The masks of the (box, label) detections one batch has seen so far, per image.

    :meth:`add_masks` gives each detection its mask, and its box in original-image coordinates,
    exactly as mmdet's ``predict_mask(..., rescale=True)`` does, but runs the mask branch only on
    the pairs not seen before: across alphas most detections recur.
    """

    def __init__(self, roi_head, x, batch_img_metas: List[dict], **predict_mask_kwargs):
        self.roi_head = roi_head
        self.x = x
        self.metas = batch_img_metas
        # HTC's predict_mask also takes its semantic feature (semantic_heat, None without it)
        self.predict_mask_kwargs = predict_mask_kwargs
        # Per image, M pairs seen so far: (M, 5) network-input box and label, (M, 4) box in the
        # original image, (M, H, W) mask.
        self.keys: List[Optional[torch.Tensor]] = [None] * len(batch_img_metas)
        self.bboxes: List[Optional[torch.Tensor]] = [None] * len(batch_img_metas)
        self.masks: List[Optional[torch.Tensor]] = [None] * len(batch_img_metas)

    @staticmethod
    def _known_rows(keys: torch.Tensor, seen: Optional[torch.Tensor]) -> torch.Tensor:
        """Per detection, its row among the pairs seen so far, or -1 for a new pair."""
        if seen is None:
            return torch.full((len(keys), ), -1, dtype=torch.long, device=keys.device)
        match = (keys[:, None] == seen[None]).all(dim=-1)
        return torch.where(match.any(dim=1), match.int().argmax(dim=1), -1)

    @staticmethod
    def _append(seen: Optional[torch.Tensor], new: torch.Tensor) -> torch.Tensor:
        return new if seen is None else torch.cat([seen, new])

    def add_masks(self, results_list: List[InstanceData]) -> List[InstanceData]:
        keys = [torch.cat([r.bboxes, r.labels[:, None].to(r.bboxes.dtype)], dim=1)
                for r in results_list]
        rows = [self._known_rows(k, seen) for k, seen in zip(keys, self.keys)]
        # predict_mask rescales the boxes in place: it gets copies.
        unseen = [InstanceData(bboxes=r.bboxes[row < 0].clone(), labels=r.labels[row < 0])
                  for r, row in zip(results_list, rows)]
        unseen = self.roi_head.predict_mask(x=self.x, batch_img_metas=self.metas,
                                            results_list=unseen, rescale=True,
                                            **self.predict_mask_kwargs)
        for j, (results, k, row, computed) in enumerate(zip(results_list, keys, rows, unseen)):
            new = row < 0
            num_seen = 0 if self.keys[j] is None else len(self.keys[j])
            row[new] = num_seen + torch.arange(int(new.sum()), device=row.device)
            self.keys[j] = self._append(self.keys[j], k[new])
            self.bboxes[j] = self._append(self.bboxes[j], computed.bboxes)
            self.masks[j] = self._append(self.masks[j], computed.masks)
            results.bboxes = self.bboxes[j][row]
            results.masks = self.masks[j][row]
        return results_list


class AlphaSweep:
    """One pass over a dataloader, one evaluator per alpha."""

    def __init__(self, model, evaluator_cfgs: Sequence, dataset_meta: dict,
                 alphas: Sequence[float], build_evaluator):
        if not alphas:
            raise ValueError('alphas must not be empty')
        self.alphas = [check_option('alpha', a) for a in alphas]
        check_sweepable(model)
        self.model = model
        if len(evaluator_cfgs) != len(self.alphas):
            raise ValueError('one evaluator config per alpha is needed')
        self.evaluators: List[Evaluator] = []
        for cfg in evaluator_cfgs:
            evaluator = build_evaluator(cfg)
            evaluator.dataset_meta = dataset_meta
            self.evaluators.append(evaluator)
        heads = _bbox_heads(model.roi_head)
        self.cos_sum = torch.zeros(len(heads), dtype=torch.float64)
        self.cos_count = 0
        self.seconds = dict(shared=0.0, per_alpha=[0.0] * len(self.alphas),
                            evaluate=[0.0] * len(self.alphas))

    @torch.no_grad()
    def process(self, data_batch: dict) -> None:
        model = self.model
        start = time.perf_counter()
        data = model.data_preprocessor(data_batch, False)
        inputs, samples = data['inputs'], data['data_samples']
        metas = [s.metainfo for s in samples]
        roi_head = model.roi_head
        x = model.extract_feat(inputs)
        rpn_results = model.rpn_head.predict(x, samples, rescale=False)
        # mmdet rescales boxes only after the masks are pasted when there is a mask branch.
        box_rescale = not roi_head.with_mask
        box_kwargs, mask_kwargs = _semantic_kwargs(roi_head, x)
        with capture_box_stage(roi_head) as record:
            roi_head.predict_bbox(x, metas, rpn_results, rcnn_test_cfg=roi_head.test_cfg,
                                  **box_kwargs,
                                  rescale=box_rescale)
        heads = _bbox_heads(roi_head)
        self._accumulate_cosine(heads, record['features'])
        stage_terms = [head.fc_cls.inference_terms(feat)
                       for head, feat in zip(heads, record['features'])]
        post = record['post_process']
        per_image = [len(r) for r in post['rois']]
        masks = MaskMemo(roi_head, x, metas, **mask_kwargs) if roi_head.with_mask else None
        self.seconds['shared'] += time.perf_counter() - start

        for i, alpha in enumerate(self.alphas):
            start = time.perf_counter()
            stage_scores = [
                head.fc_cls.scores_from_terms(*terms, alpha).split(per_image, 0)
                for head, terms in zip(heads, stage_terms)
            ]
            # The same arithmetic as mmdet's cascade score averaging.
            cls_scores = [
                sum([scores[j] for scores in stage_scores]) / float(len(stage_scores))
                for j in range(len(metas))
            ]
            results = heads[-1].predict_by_feat(**dict(post, cls_scores=cls_scores))
            if masks is not None:
                results = masks.add_masks(results)
            predictions = model.add_pred_to_datasample(copy.deepcopy(samples), results)
            self.evaluators[i].process(data_samples=predictions, data_batch=data_batch)
            self.seconds['per_alpha'][i] += time.perf_counter() - start

    def _accumulate_cosine(self, heads, features) -> None:
        # The sums stay on the CPU, whatever device the model runs on (mmengine's all_reduce
        # moves them to the communication device).
        for s, (head, feat) in enumerate(zip(heads, features)):
            cosine = head.fc_cls.head_direction_cosine(feat).mean(dim=1).double().sum()
            self.cos_sum[s] += cosine.cpu()
        self.cos_count += len(features[0])

    def evaluate(self, num_samples: int) -> List[Dict[str, float]]:
        metrics = []
        for i, evaluator in enumerate(self.evaluators):
            start = time.perf_counter()
            metrics.append(evaluator.evaluate(num_samples))
            self.seconds['evaluate'][i] = time.perf_counter() - start
        return metrics

    def mean_cosine(self) -> List[float]:
        """Per stage, mean ``cos(x, d_hat)`` over the test RoIs of all ranks and over the heads."""
        totals = torch.cat([self.cos_sum, self.cos_sum.new_tensor([self.cos_count])])
        all_reduce(totals)
        return (totals[:-1] / totals[-1].clamp_min(1)).tolist()


def _outfile_prefix(work_dir: str, alpha: float) -> str:
    return f'{work_dir}/alpha_{alpha:g}/lvis'


def _evaluator_cfg_for(cfg, alpha: float, work_dir: str):
    """The test evaluator config, with each LVIS metric's files under ``work_dir/alpha_A/``."""
    cfg = copy.deepcopy(cfg)
    for metric in cfg if isinstance(cfg, list) else [cfg]:
        if 'outfile_prefix' in metric or 'LVIS' in str(metric.get('type')):
            metric['outfile_prefix'] = _outfile_prefix(work_dir, alpha)
    return cfg


def sweep_ap_change(work_dir: str, alphas: Sequence[float], num: int = 10) -> Optional[dict]:
    """Per-category AP change from TDE off to the best alpha, from the sweep's LVIS reports.

    The best alpha has the highest mask AP when masks were evaluated, else box AP (ties: the
    smaller alpha); the reference is alpha 0, else the smallest alpha swept. Writes
    ``work_dir/alpha_sweep_ap_change.{csv,png}`` (:func:`category_ap_change`,
    :func:`save_ap_change`), logs the ``num`` rare categories that gained most and frequent ones
    that lost most, and returns what it compared. Without the reports (a metric other than
    FastLVISMetric, or ``report=False``) it logs why and returns None.
    """
    logger = MMLogger.get_current_instance()
    alphas = sorted(set(alphas))
    paths = {t: {a: f'{_outfile_prefix(work_dir, a)}.{t}_report.json' for a in alphas}
             for t in ('segm', 'bbox')}
    iou_type = next((t for t in paths if all(map(osp.isfile, paths[t].values()))), None)
    if iou_type is None:
        logger.warning('no per-category AP change: the sweep wrote no LVIS report at some '
                       f'alpha ({paths["bbox"][alphas[0]]} and the like; FastLVISMetric writes '
                       'them unless report=False)')
        return None
    reports = {}
    for alpha, path in paths[iou_type].items():
        with open(path) as f:
            reports[alpha] = json.load(f)
    reference = 0.0 if 0 in alphas else alphas[0]
    best = max(alphas, key=lambda a: reports[a]['summary']['AP'])  # ties: the smaller
    rows = category_ap_change(reports[reference], reports[best])
    chosen_by = f'{"mask" if iou_type == "segm" else "box"} AP'
    title = f'{iou_type} AP change per category, alpha {reference:g} -> {best:g}'
    files = save_ap_change(rows, osp.join(work_dir, 'alpha_sweep_ap_change'), title)
    moves = largest_moves(rows, num)
    why = 'TDE off' if reference == 0 else 'the smallest alpha swept; 0 (TDE off) was not'
    lines = [f'per-category {iou_type} AP change from alpha {reference:g} ({why}) to alpha '
             f'{best:g} (the highest {chosen_by}: {reports[best]["summary"]["AP"]:.4f} against '
             f'{reports[reference]["summary"]["AP"]:.4f}): {", ".join(files.values())}']
    for key, what in (('rare_gains', 'rare categories that gained most'),
                      ('frequent_losses', 'frequent categories that lost most')):
        moved = [f"{r['name']} {r['change']:+.4f} ({r['AP_reference']:.4f} -> {r['AP_best']:.4f})"
                 for r in moves[key]]
        lines.append(f'{what}: ' + (', '.join(moved) if moved else 'none'))
    logger.info('\n'.join(lines))
    return dict(iou_type=iou_type, chosen_by=chosen_by, reference_alpha=reference,
                best_alpha=best, files=files,
                **{key: [dict(category_id=r['category_id'], name=r['name'], change=r['change'])
                         for r in moved_rows] for key, moved_rows in moves.items()})


def run_alpha_sweep(runner, alphas: Sequence[float]) -> dict:
    """Sweep ``alphas`` with a Runner whose model and test dataloader are built from a config.

    Under a distributed launcher every rank sweeps its share of the test set and the evaluators
    gather the predictions of all ranks; the timings are rank 0's.
    """
    logger = MMLogger.get_current_instance()
    dataloader = runner.test_dataloader
    dataset = dataloader.dataset
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model
    model.eval()
    evaluator_cfgs = [_evaluator_cfg_for(runner.cfg.test_evaluator, a, runner.work_dir)
                      for a in alphas]
    sweep = AlphaSweep(model, evaluator_cfgs, dataset.metainfo, alphas, runner.build_evaluator)
    logger.info(f'alpha sweep over {len(dataset)} images for alphas {sweep.alphas}')
    progress = ProgressBar(len(dataset)) if is_main_process() else None
    for data_batch in dataloader:
        sweep.process(data_batch)
        if progress is not None:
            for _ in range(len(data_batch['data_samples']) * get_world_size()):
                progress.update()
    metrics = sweep.evaluate(len(dataset))
    seconds = sweep.seconds
    per_alpha = [p + e for p, e in zip(seconds['per_alpha'], seconds['evaluate'])]
    # The first alpha pays for all its masks, i.e. what a plain test run computes; each further
    # alpha (in the order given) only for its scores, NMS, new masks and evaluation.
    one_pass = seconds['shared'] + per_alpha[0]
    extra = per_alpha[1:]
    return dict(
        alphas=sweep.alphas,
        metrics=metrics,
        mean_cos_head_direction=sweep.mean_cosine(),
        seconds=dict(seconds, one_full_pass=one_pass, each_extra_alpha=extra),
        extra_alpha_cost_ratio=[e / one_pass for e in extra])
