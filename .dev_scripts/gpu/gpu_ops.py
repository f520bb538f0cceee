"""mmcv's compiled ops on a device: a check against the CPU, and a torchvision stand-in for CUDA.

Cascade Mask R-CNN runs two of mmcv's compiled ops: RoIAlign (box and mask features, mask
targets) and NMS (RPN proposals, detections).

``python .dev_scripts/gpu/gpu_ops.py --device cuda`` runs both on the device and on the CPU
(RoIAlign forward and backward, NMS keep lists) and prints one JSON line: the largest
differences, which build of mmcv ran them and whether the torchvision stand-in was active. Exit
status 0 when they agree, 3 when they run but differ, 2 when they fail (e.g. an mmcv built
without CUDA ops).

``install_torchvision_fallback()`` routes these two ops to torchvision's kernels for CUDA tensors
and leaves every other call to mmcv: for an mmcv built with CPU ops only, the fallback of
``gpu_check.sh`` when mmcv's CUDA build fails (installed by ``fallback/sitecustomize.py``). It
replaces the ``ext_module`` that ``mmcv.ops.roi_align`` and ``mmcv.ops.nms`` call at run time, so
names that other modules imported from mmcv keep working. torchvision's ``roi_align`` with
``aligned`` and its ``nms`` are the Detectron2 definitions that mmcv's kernels implement; the
check above compares them.
"""
import argparse
import importlib
import json
import signal
import subprocess
import sys

import torch


class _ExtProxy:
    """mmcv's extension module with some functions replaced."""

    # A class attribute, not an isinstance check: the sitecustomize loads this file as a module
    # of its own, so a process that runs this file as __main__ has a second _ExtProxy class.
    is_torchvision_fallback = True

    def __init__(self, ext, **overrides):
        self._ext = ext
        self._overrides = overrides

    def __getattr__(self, name):
        if name in self._overrides:
            return self._overrides[name]
        return getattr(self._ext, name)


def _op_modules():
    # import_module, not ``import mmcv.ops.nms as m``: mmcv.ops.nms is also a function's name.
    return (importlib.import_module('mmcv.ops.roi_align'), importlib.import_module('mmcv.ops.nms'))


def install_torchvision_fallback(devices=('cuda', ), kernels=None) -> None:
    """Route RoIAlign ('avg') and NMS (offset 0) on ``devices`` to ``kernels``: torchvision's
    operators (``roi_align``, ``_roi_align_backward``, ``nms``) unless given."""
    if torchvision_fallback_active():
        return
    roi_align_module, nms_module = _op_modules()
    if kernels is None:
        import torchvision  # noqa: F401  (registers torch.ops.torchvision)
        kernels = torch.ops.torchvision
    tv = kernels
    roi_ext, nms_ext = roi_align_module.ext_module, nms_module.ext_module

    def roi_align_forward(input, rois, output, argmax_y, argmax_x, *, aligned_height,
                          aligned_width, spatial_scale, sampling_ratio, pool_mode, aligned):
        # pool_mode 1 is 'avg'; torchvision has no 'max'
        if input.device.type not in devices or pool_mode != 1:
            return roi_ext.roi_align_forward(
                input, rois, output, argmax_y, argmax_x, aligned_height=aligned_height,
                aligned_width=aligned_width, spatial_scale=spatial_scale,
                sampling_ratio=sampling_ratio, pool_mode=pool_mode, aligned=aligned)
        output.copy_(tv.roi_align(input, rois, spatial_scale, aligned_height, aligned_width,
                                  sampling_ratio, aligned))

    def roi_align_backward(grad_output, rois, argmax_y, argmax_x, grad_input, *, aligned_height,
                           aligned_width, spatial_scale, sampling_ratio, pool_mode, aligned):
        if grad_output.device.type not in devices or pool_mode != 1:
            return roi_ext.roi_align_backward(
                grad_output, rois, argmax_y, argmax_x, grad_input,
                aligned_height=aligned_height, aligned_width=aligned_width,
                spatial_scale=spatial_scale, sampling_ratio=sampling_ratio, pool_mode=pool_mode,
                aligned=aligned)
        n, c, h, w = grad_input.shape
        grad_input.copy_(tv._roi_align_backward(grad_output, rois, spatial_scale, aligned_height,
                                                aligned_width, n, c, h, w, sampling_ratio,
                                                aligned))

    def nms(bboxes, scores, *, iou_threshold, offset):
        if bboxes.device.type not in devices or offset != 0:  # torchvision's areas have no +1
            return nms_ext.nms(bboxes, scores, iou_threshold=iou_threshold, offset=offset)
        return tv.nms(bboxes, scores, iou_threshold)

    roi_align_module.ext_module = _ExtProxy(roi_ext, roi_align_forward=roi_align_forward,
                                            roi_align_backward=roi_align_backward)
    nms_module.ext_module = _ExtProxy(nms_ext, nms=nms)


def torchvision_fallback_active() -> bool:
    return getattr(_op_modules()[0].ext_module, 'is_torchvision_fallback', False) is True


def mmcv_build_info() -> dict:
    """The compiler and CUDA version mmcv's ops were built with, asked in a child process: on
    the first GPU run (mmcv 2.1.0 built for torch 2.11 / CUDA 13) ``get_compiling_cuda_version``
    crashed the interpreter with a segmentation fault while the ops themselves ran."""
    info = {}
    for key, func in (('mmcv_cuda', 'get_compiling_cuda_version'),
                      ('mmcv_compiler', 'get_compiler_version')):
        child = subprocess.run(
            [sys.executable, '-c', f'from mmcv.ops import {func}; print({func}())'],
            capture_output=True, text=True)
        if child.returncode == 0:
            info[key] = child.stdout.strip()
        elif child.returncode < 0:
            info[key] = f'{func} crashed: {signal.Signals(-child.returncode).name}'
        else:
            info[key] = f'{func} failed: exit status {child.returncode}'
    return info


def check(device: str, seed: int = 0) -> dict:
    """RoIAlign and NMS on ``device`` against the CPU; raises nothing, reports everything."""
    from mmcv.ops import nms, roi_align

    g = torch.Generator().manual_seed(seed)
    feats = torch.rand(2, 16, 40, 56, generator=g, dtype=torch.float64).float()
    xy = torch.rand(64, 2, generator=g) * torch.tensor([40.0, 28.0])
    wh = torch.rand(64, 2, generator=g) * torch.tensor([16.0, 12.0]) + 0.5
    rois = torch.cat([torch.randint(0, 2, (64, 1), generator=g).float(), xy, xy + wh], dim=1)
    weights = torch.rand(64, 16, 7, 7, generator=g)
    result = dict(device=device, **mmcv_build_info(),
                  torchvision_fallback=torchvision_fallback_active())

    def roi_align_run(dev, sampling_ratio, aligned):
        x = feats.to(dev).requires_grad_()
        out = roi_align(x, rois.to(dev), (7, 7), 0.5, sampling_ratio, 'avg', aligned)
        (out * weights.to(dev)).sum().backward()
        return out.detach().cpu(), x.grad.cpu()

    errors = {}
    for sampling_ratio in (0, 2):
        for aligned in (True, False):
            ref, ref_grad = roi_align_run('cpu', sampling_ratio, aligned)
            out, grad = roi_align_run(device, sampling_ratio, aligned)
            key = f'roi_align_sr{sampling_ratio}_{"aligned" if aligned else "legacy"}'
            errors[key] = max((out - ref).abs().max().item(), (grad - ref_grad).abs().max().item())
    boxes = torch.cat([xy, xy + wh], dim=1).repeat(4, 1) + torch.rand(256, 4, generator=g)
    scores = torch.rand(256, generator=g)
    _, keep_cpu = nms(boxes, scores, 0.5)
    _, keep_dev = nms(boxes.to(device), scores.to(device), 0.5)
    result.update(roi_align_max_abs_diff=errors, nms_kept=[len(keep_cpu), len(keep_dev)],
                  nms_same=keep_cpu.tolist() == keep_dev.cpu().tolist())
    result['ok'] = result['nms_same'] and max(errors.values()) < 1e-4
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--torchvision-fallback', action='store_true',
                        help='install the torchvision stand-in first')
    args = parser.parse_args(argv)
    if args.torchvision_fallback:
        install_torchvision_fallback()
    try:
        result = check(args.device)
    except Exception as exc:  # noqa: BLE001 - the caller decides on the exit status
        print(json.dumps(dict(device=args.device, ok=False, error=f'{type(exc).__name__}: {exc}')))
        return 2
    print(json.dumps(result))
    return 0 if result['ok'] else 3


if __name__ == '__main__':
    sys.exit(main())
