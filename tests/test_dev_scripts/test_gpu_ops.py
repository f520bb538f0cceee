""".dev_scripts/gpu/gpu_ops.py: the torchvision stand-in routes RoIAlign and NMS with
torchvision's argument order, leaves the rest to mmcv, and is seen by a process it runs in.

torchvision is not installed here: stand-in kernels with its signatures call mmcv's CPU ops, so
that a wrong argument order gives a different result."""
import importlib
import json
import os
import subprocess
import sys

import pytest
import torch

from mmcv.ops import nms, roi_align


@pytest.fixture
def gpu_ops(gpu_script, monkeypatch):
    """The module, with mmcv's ext_modules restored after the test."""
    for name in ('mmcv.ops.roi_align', 'mmcv.ops.nms'):
        module = importlib.import_module(name)
        monkeypatch.setattr(module, 'ext_module', module.ext_module)
    return gpu_script('gpu_ops')


class TorchvisionLike:
    """torchvision's operator signatures, computed by mmcv's CPU kernels; records its calls."""

    def __init__(self):
        self.calls = []
        self.roi_ext = importlib.import_module('mmcv.ops.roi_align').ext_module
        self.nms_ext = importlib.import_module('mmcv.ops.nms').ext_module

    def roi_align(self, input, rois, spatial_scale, pooled_height, pooled_width, sampling_ratio,
                  aligned):
        self.calls.append('roi_align')
        out = input.new_zeros(rois.shape[0], input.shape[1], pooled_height, pooled_width)
        empty = input.new_zeros(0)
        self.roi_ext.roi_align_forward(
            input, rois, out, empty, empty, aligned_height=pooled_height,
            aligned_width=pooled_width, spatial_scale=spatial_scale,
            sampling_ratio=sampling_ratio, pool_mode=1, aligned=aligned)
        return out

    def _roi_align_backward(self, grad, rois, spatial_scale, pooled_height, pooled_width,
                            batch_size, channels, height, width, sampling_ratio, aligned):
        self.calls.append('roi_align_backward')
        grad_input = grad.new_zeros(batch_size, channels, height, width)
        empty = grad.new_zeros(0)
        self.roi_ext.roi_align_backward(
            grad, rois, empty, empty, grad_input, aligned_height=pooled_height,
            aligned_width=pooled_width, spatial_scale=spatial_scale,
            sampling_ratio=sampling_ratio, pool_mode=1, aligned=aligned)
        return grad_input

    def nms(self, dets, scores, iou_threshold):
        self.calls.append('nms')
        return self.nms_ext.nms(dets, scores, iou_threshold=iou_threshold, offset=0)


def inputs():
    g = torch.Generator().manual_seed(0)
    feats = torch.rand(2, 3, 20, 28, generator=g)
    xy = torch.rand(16, 2, generator=g) * torch.tensor([20.0, 14.0])
    boxes = torch.cat([xy, xy + torch.rand(16, 2, generator=g) * 10 + 0.5], dim=1)
    rois = torch.cat([torch.randint(0, 2, (16, 1), generator=g).float(), boxes], dim=1)
    return feats, rois, boxes, torch.rand(16, generator=g)


def roi_align_run(feats, rois, pool_mode='avg'):
    x = feats.clone().requires_grad_()
    out = roi_align(x, rois, (7, 5), 0.5, 2, pool_mode, True)  # not square: catches h/w swaps
    (out * torch.arange(out.numel()).reshape(out.shape)).sum().backward()
    return out.detach(), x.grad


def test_routed_ops_match_mmcv(gpu_ops):
    feats, rois, boxes, scores = inputs()
    ref_out, ref_grad = roi_align_run(feats, rois)
    ref_keep = nms(boxes, scores, 0.3)[1]
    kernels = TorchvisionLike()
    gpu_ops.install_torchvision_fallback(devices=('cpu', ), kernels=kernels)
    assert gpu_ops.torchvision_fallback_active()
    out, grad = roi_align_run(feats, rois)
    keep = nms(boxes, scores, 0.3)[1]
    assert kernels.calls == ['roi_align', 'roi_align_backward', 'nms']
    assert torch.equal(out, ref_out) and torch.equal(grad, ref_grad)
    assert keep.tolist() == ref_keep.tolist() and 0 < len(keep) < 16


def test_what_torchvision_lacks_stays_with_mmcv(gpu_ops):
    feats, rois, boxes, scores = inputs()
    kernels = TorchvisionLike()
    gpu_ops.install_torchvision_fallback(devices=('cpu', ), kernels=kernels)
    roi_align_run(feats, rois, pool_mode='max')
    nms(boxes, scores, 0.3, offset=1)  # torchvision's box areas have no +1
    assert kernels.calls == []


def test_other_devices_stay_with_mmcv_and_a_second_install_is_a_no_op(gpu_ops):
    feats, rois, boxes, scores = inputs()
    first, second = TorchvisionLike(), TorchvisionLike()
    gpu_ops.install_torchvision_fallback(devices=('cuda', ), kernels=first)
    gpu_ops.install_torchvision_fallback(devices=('cpu', ), kernels=second)
    roi_align_run(feats, rois)
    nms(boxes, scores, 0.3)
    assert gpu_ops.torchvision_fallback_active()
    assert first.calls == [] and second.calls == []


@pytest.mark.slow
def test_the_fallback_sitecustomize_is_seen_by_the_check(repo_root, tmp_path):
    """The fallback as gpu_check.sh installs it (PYTHONPATH), torchvision stubbed: the check's
    report says the stand-in is active, and CPU ops (not routed) agree with themselves."""
    (tmp_path / 'torchvision').mkdir()
    (tmp_path / 'torchvision' / '__init__.py').write_text('')
    path = [str(repo_root / '.dev_scripts' / 'gpu' / 'fallback'), str(tmp_path),
            os.environ.get('PYTHONPATH', '')]
    done = subprocess.run(
        [sys.executable, str(repo_root / '.dev_scripts' / 'gpu' / 'gpu_ops.py'), '--device',
         'cpu'], env=dict(os.environ, PYTHONPATH=os.pathsep.join(path)), capture_output=True,
        text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    assert result['torchvision_fallback'] is True and result['ok'] is True
    assert max(result['roi_align_max_abs_diff'].values()) == 0.0
    assert result['nms_same'] is True
