import os.path as osp
from collections import OrderedDict
from functools import partial
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
from mmengine.dist import broadcast_object_list, get_world_size
from mmengine.fileio import get_local_path
from mmengine.logging import MMLogger

from mmdet.evaluation.metrics import LVISMetric
from mmdet.registry import METRICS
from mmdet_tde.utils.process_group import SingleProcess, TorchProcessGroup

from ..fast_lvis import (FIXED_METRIC_NAMES, IOU_TYPES, MAX_DETS_PER_CATEGORY, METRIC_NAMES,
                         count_categories_below, evaluate_lvis, evaluate_lvis_fixed,
                         load_lvis_annotations)
from ..lvis_report import (category_table, error_tables, frequency_table, save_report,
                           summary_table)
from ..lvis_tide import TIDE_IOU_TYPES


@METRICS.register_module()
class FastLVISMetric(LVISMetric):
    """LVIS box and mask AP with the LVIS API's numbers, about 10x faster, under numpy 2.

    A drop-in for mmdet's ``LVISMetric`` (same arguments, same ``lvis/bbox_AP``-style keys plus
    ``lvis/{bbox,segm}_AR@300``) for ``metric`` ``'bbox'`` and ``'segm'``, plus Boundary AP
    (``'boundary'``) and, with ``ap_fixed``, Fixed AP. Matching runs in hotcoco's Rust code with
    LVIS's rules (see :mod:`mmdet_tde.evaluation.fast_lvis`); predictions are evaluated in
    memory, not through a temporary JSON file. Values are not rounded. Class names and order
    (``dataset_meta['classes']``) must be the annotation file's categories, or the metric
    refuses the dataset.

    Besides the metrics it logs a per-frequency table (and a per-category table when
    ``classwise``) and writes ``{prefix}.{metric}_report.json`` plus per-category and
    per-frequency CSVs, where ``prefix`` is ``outfile_prefix`` or, when that is None,
    ``lvis_eval`` in the directory of the current log file (the run's work dir).

    Args:
        ann_file (str): LVIS v0.5 or v1.0 annotation file. Required: LVIS evaluation needs its
            negative / not-exhaustive category lists and category frequencies.
        metric (str | List[str]): 'bbox', 'segm' and/or 'boundary' (mask AP with
            min(mask IoU, boundary IoU)). Defaults to 'bbox'.
        classwise (bool): Also log per-category AP and return it as
            ``{metric}_{category name}_precision`` (``..._precision_fixed`` for Fixed AP).
            Defaults to False.
        metric_items (List[str], optional): Summary metrics to return, a subset of
            AP, AP50, AP75, APs, APm, APl, APr, APc, APf, AR@300 and, with ``ap_fixed``,
            of AP_fixed, ..., APf_fixed, AR_fixed. Defaults to all of them.
        format_only (bool): Only write the results JSON files. Defaults to False.
        outfile_prefix (str, optional): Prefix of the results JSON files
            (``{prefix}.bbox.json``, ``{prefix}.segm.json``) and of the report files.
        report (bool): Write the report files. Defaults to True.
        ap_fixed (bool): Also return Fixed AP, ``{metric}_AP_fixed`` etc.: the top 10,000
            detections per category over the dataset, without the 300 per image cap (which
            the standard keys keep). Needs test settings that keep more than 300 detections
            per image (docs/evaluation.md). Defaults to False.
        tide (bool): Also log TIDE's error types per frequency group (count and ΔAP50 of
            Cls, Loc, Both, Dupe, Bkg, Miss) for 'bbox' and 'segm', and keep them in the
            report JSON as ``errors`` (:mod:`..lvis_tide`). Defaults to False.

        ``classwise``, ``metric_items``, ``format_only``, ``outfile_prefix`` and the other
        arguments (``collect_device``, ``prefix``, ``backend_args``, ...) go to ``LVISMetric``;
        ``proposal_nums`` and ``iou_thrs`` only matter to proposal metrics, which this metric
        does not offer.
    """

    def __init__(self,
                 ann_file: Optional[str] = None,
                 metric: Union[str, List[str]] = 'bbox',
                 report: bool = True,
                 ap_fixed: bool = False,
                 tide: bool = False,
                 **kwargs) -> None:
        if ann_file is None:
            raise ValueError(
                'FastLVISMetric needs ann_file: LVIS evaluation uses the neg_category_ids, '
                'not_exhaustive_category_ids and category frequencies of the annotation file')
        metrics = metric if isinstance(metric, list) else [metric]
        # The parent loads annotations with the LVIS API; here load_lvis_annotations does.
        # It knows no 'boundary', which needs the same mask results (files) as 'segm'.
        self._result_types = [m if m != 'boundary' else 'segm' for m in metrics]
        super().__init__(ann_file=None, metric=self._result_types, **kwargs)
        self.metrics = metrics
        for name in self.metrics:
            if name not in IOU_TYPES:
                raise KeyError(f"FastLVISMetric evaluates metric 'bbox', 'segm' and 'boundary', "
                               f"got '{name}'; use mmdet's LVISMetric for proposal metrics")
        allowed_items = METRIC_NAMES + (FIXED_METRIC_NAMES if ap_fixed else ())
        for item in self.metric_items or ():
            if item not in allowed_items:
                raise KeyError(f"metric item '{item}' is not supported; allowed: "
                               f"{', '.join(allowed_items)}")
        if tide and not set(self.metrics) & set(TIDE_IOU_TYPES):
            raise ValueError(f"tide=True needs metric 'bbox' or 'segm', got {self.metrics}")
        self.report = report
        self.ap_fixed = ap_fixed
        self.tide = tide
        self.ann_file = ann_file
        with get_local_path(ann_file, backend_args=self.backend_args) as local_path:
            # Same role and LVIS-style accessors (get_cat_ids, ...) as the parent's LVIS API.
            self._lvis_api = load_lvis_annotations(local_path)
        self.cat_ids = self._lvis_api.get_cat_ids()

    @LVISMetric.dataset_meta.setter
    def dataset_meta(self, dataset_meta: Optional[dict]) -> None:
        """Refuse a dataset whose classes are not the annotation file's categories, in order.

        Label ``i`` is evaluated as category ``cat_ids[i]`` (the annotation file's order, which
        mmdet's LVIS datasets use for labels too). The test and validation loops set this
        before the first image, so a model trained with another class order stops there
        instead of silently scoring AP about 0.
        """
        classes = None if dataset_meta is None else dataset_meta.get('classes')
        names = [self._lvis_api.cats[cat_id].get('name') for cat_id in self.cat_ids]
        if classes is not None and list(classes) != names:
            pos = next((i for i, (a, b) in enumerate(zip(classes, names)) if a != b),
                       min(len(classes), len(names)))
            ours = repr(classes[pos]) if pos < len(classes) else '(none)'
            theirs = (f'{names[pos]!r} (category id {self.cat_ids[pos]})' if pos < len(names)
                      else '(none)')
            raise ValueError(
                f"dataset classes do not match the categories of {self.ann_file}: label {pos} "
                f"is {ours} in dataset_meta['classes'] but {theirs} in the annotation file "
                f'({len(classes)} classes, {len(names)} categories). Labels are evaluated as '
                "the annotation file's categories in its order (by id); a model trained with "
                'another class order would be scored against the wrong categories.')
        self._dataset_meta = dataset_meta

    def evaluate(self, size: int) -> dict:
        """Metrics of the whole dataset; in a distributed run every process evaluates.

        Each process keeps its own predictions (none travel through a shared folder) and
        evaluates a share of the categories; detections go to the process of their category
        through torch.distributed (:mod:`mmdet_tde.utils.process_group`) and rank 0 assembles
        the metrics, equal to one process's. Only results files (``outfile_prefix``) need every
        prediction on rank 0.
        """
        if get_world_size() == 1 or self.format_only:
            return super().evaluate(size)
        group = TorchProcessGroup()
        # mmengine's samplers give rank r the samples r, r + world_size, ... and pad the last
        # ranks with repeats; collect_results drops positions past ``size``, and so does this.
        preds = [(pos, pred) for pos, (_, pred) in zip(
            range(group.rank, size, group.world_size), self.results)]
        if self.outfile_prefix is not None:
            shares = group.gather(preds)
            if shares is not None:
                self._save_results([pred for _, pred in sorted(sum(shares, []),
                                                              key=lambda p: p[0])])
        metrics = self._evaluate_preds([pred for _, pred in preds], group,
                                       _detection_offsets(preds, group))
        if metrics is not None and self.prefix:
            metrics = {f'{self.prefix}/{k}': v for k, v in metrics.items()}
        metrics = [metrics]
        broadcast_object_list(metrics)
        self.results.clear()
        return metrics[0]

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """Evaluate the gathered predictions (one process)."""
        preds = [pred for _, pred in results]
        if preds:
            self._save_results(preds)
        if self.format_only:
            return OrderedDict()
        return self._evaluate_preds(preds, SingleProcess())

    def _save_results(self, preds: Sequence[dict]) -> None:
        if self.outfile_prefix is None:
            return
        result_files = self.results2json(preds, self.outfile_prefix)
        MMLogger.get_current_instance().info(
            f'results are saved in {osp.dirname(self.outfile_prefix)}: '
            f"{', '.join(sorted(set(result_files[m] for m in self._result_types)))}")

    def _evaluate_preds(self, preds: Sequence[dict], group,
                        offsets: Optional[Sequence[int]] = None) -> Optional[Dict[str, float]]:
        """Metrics of ``preds`` (this process's share when shared; ``offsets``: the position
        of each prediction's first detection over all processes). None except on rank 0."""
        logger: MMLogger = MMLogger.get_current_instance()
        order = None if offsets is None else np.concatenate(
            [np.arange(len(pred['scores'])) + offset for pred, offset in zip(preds, offsets)]
            + [np.zeros(0, dtype=np.int64)])
        main = group.rank == 0
        report_prefix = self._report_prefix(logger) if main else None
        items = self.metric_items or METRIC_NAMES + (FIXED_METRIC_NAMES if self.ap_fixed else ())
        eval_results = OrderedDict()
        for metric in self.metrics:
            if main:
                logger.info(f'Evaluating {metric}...')
            lvis_results = self._to_columns(preds, metric)
            evaluations = [partial(evaluate_lvis, tide=self.tide and metric in TIDE_IOU_TYPES)]
            if self.ap_fixed:
                evaluations.append(evaluate_lvis_fixed)
                short = count_categories_below(self._lvis_api, lvis_results, group=group)
                if main:
                    logger.info(f'Fixed AP: {short} categories with ground truth have fewer '
                                f'than {MAX_DETS_PER_CATEGORY} detections (see '
                                'docs/evaluation.md)')
            for evaluate in evaluations:
                lvis_eval = evaluate(self._lvis_api, lvis_results, metric, group=group,
                                     order=order)
                if not main:
                    continue
                self._log_and_save(lvis_eval, metric, report_prefix, logger, eval_results)
                eval_results.update((f'{metric}_{name}', lvis_eval.summary[name])
                                    for name in items if name in lvis_eval.summary)
        return eval_results if main else None

    def _log_and_save(self, lvis_eval, metric: str, report_prefix: Optional[str],
                      logger: MMLogger, eval_results: dict) -> None:
        """Tables in the log, report files, and per-category AP when ``classwise``."""
        logger.info('\n' + summary_table(lvis_eval))
        logger.info('\n' + frequency_table(lvis_eval))
        if lvis_eval.errors is not None:
            logger.info('\n' + error_tables(lvis_eval))
        if self.classwise:
            logger.info('\n' + category_table(lvis_eval))
            ap_key = lvis_eval.metric_names[0]
            suffix = '_fixed' if lvis_eval.protocol == 'fixed' else ''
            for row in lvis_eval.per_category:
                ap = row[ap_key] if row[ap_key] >= 0 else float('nan')
                eval_results[f"{metric}_{row['name']}_precision{suffix}"] = ap
        if report_prefix is not None:
            paths = save_report(lvis_eval, report_prefix)
            logger.info(f"LVIS {lvis_eval.name} report: {', '.join(paths.values())}")

    def _to_columns(self, preds: Sequence[dict], iou_type: str) -> dict:
        """Predictions as the detection columns evaluation reads (no dict per detection)."""
        masks = iou_type in ('segm', 'boundary')
        cat_ids = np.asarray(self.cat_ids, dtype=np.int64)
        boxes = [np.asarray(pred['bboxes'], dtype=np.float64).reshape(-1, 4) for pred in preds]
        boxes = np.concatenate(boxes + [np.zeros((0, 4))])
        boxes[:, 2:] -= boxes[:, :2]  # xyxy -> xywh, as CocoMetric.xyxy2xywh
        scores = [np.asarray(pred.get('mask_scores', pred['scores']) if masks else pred['scores'],
                             dtype=np.float64).reshape(-1) for pred in preds]
        labels = [np.asarray(pred['labels'], dtype=np.int64).reshape(-1) for pred in preds]
        return dict(
            image_id=np.repeat(np.array([pred['img_id'] for pred in preds], dtype=np.int64),
                               [len(s) for s in scores]),
            category_id=cat_ids[np.concatenate(labels + [np.zeros(0, np.int64)])],
            score=np.concatenate(scores + [np.zeros(0)]), bbox=boxes,
            segmentation=[m for pred in preds for m in pred['masks']] if masks else None)

    def _report_prefix(self, logger: MMLogger) -> Optional[str]:
        if not self.report:
            return None
        if self.outfile_prefix is not None:
            return self.outfile_prefix
        if logger.log_file is not None:
            return osp.join(osp.dirname(logger.log_file), 'lvis_eval')
        logger.info('LVIS report files not written: set outfile_prefix or run with a work dir')
        return None


def _detection_offsets(preds: Sequence[tuple], group) -> List[int]:
    """Where each ``(position, pred)``'s detections start in the whole results list."""
    counts = sorted(pair for share in group.all_gather(
        [(pos, len(pred['scores'])) for pos, pred in preds]) for pair in share)
    starts = np.cumsum([0] + [num for _, num in counts]).tolist()
    start_of = {pos: start for (pos, _), start in zip(counts, starts)}
    return [start_of[pos] for pos, _ in preds]
