"""MaskMemo: the sweep's masks equal mmdet's predict_mask, computed once per (box, label)."""
import copy

import torch
from mmengine.structures import InstanceData

from helpers.models import build_model, make_batch, stock_cascade_cfg
from mmdet_tde.engine.alpha_sweep import MaskMemo

C = 5


def _detections(g, n, size):
    xy = torch.rand(n, 2, generator=g) * size * 0.5
    wh = torch.rand(n, 2, generator=g) * size * 0.4 + 4
    return InstanceData(bboxes=torch.cat([xy, xy + wh], dim=1),
                        labels=torch.randint(0, C, (n,), generator=g),
                        scores=torch.rand(n, generator=g))


def _second_alpha(first, g, size):
    """Detections that share some (box, label) pairs with ``first``, relabel one box, add two."""
    relabelled = InstanceData(bboxes=first.bboxes[:1], labels=(first.labels[:1] + 1) % C,
                              scores=first.scores[:1])
    return InstanceData.cat([first[[3, 1, 2]], relabelled, _detections(g, 2, size)])


def test_masks_equal_predict_mask_and_are_computed_once_per_pair():
    torch.manual_seed(0)
    model = build_model(stock_cascade_cfg(num_classes=C)).eval()
    batch = make_batch(num_images=2, size=96)
    for sample in batch['data_samples']:  # network input at twice the original size
        sample.set_metainfo(dict(ori_shape=(48, 48), scale_factor=(2.0, 2.0)))
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        data = model.data_preprocessor(batch, False)
        x = model.extract_feat(data['inputs'])
        metas = [s.metainfo for s in data['data_samples']]
        first = [_detections(g, 6, 96), _detections(g, 4, 96)]
        # image 1 has no detection at the second alpha
        second = [_second_alpha(first[0], g, 96), first[1][:0]]
        expected = [model.roi_head.predict_mask(x, metas, copy.deepcopy(r), rescale=True)
                    for r in (first, second)]

        rois_seen = []
        mask_forward = model.roi_head._mask_forward

        def counting_mask_forward(stage, x, rois):
            if stage == 0:
                rois_seen.append(len(rois))
            return mask_forward(stage, x, rois)

        model.roi_head._mask_forward = counting_mask_forward
        memo = MaskMemo(model.roi_head, x, metas)
        got = [memo.add_masks(copy.deepcopy(r)) for r in (first, second)]

    assert rois_seen == [6 + 4, 1 + 2]  # the relabelled box and the two new boxes
    for got_alpha, expected_alpha, given in zip(got, expected, (first, second)):
        for g_img, e_img, d_img in zip(got_alpha, expected_alpha, given):
            assert torch.equal(g_img.bboxes, e_img.bboxes)
            assert torch.equal(g_img.bboxes, d_img.bboxes / 2)
            assert torch.equal(g_img.labels, d_img.labels)
            assert torch.equal(g_img.scores, d_img.scores)
            assert g_img.masks.shape == (len(d_img), 48, 48)
            # batch composition may move a logit by ~1e-7; a wrong assignment differs by far more
            assert (g_img.masks != e_img.masks).sum() <= 1e-3 * g_img.masks.numel()
    assert got[1][0].masks.any(dim=(1, 2)).sum() > 0
