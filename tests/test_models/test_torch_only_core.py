"""The pure-PyTorch core works where mmdet and its stack are not installed; with mmdet, importing
the package registers the plugin."""
import json
import subprocess
import sys

import numpy as np
import pytest

from helpers.reference import ref_graph, ref_logit_adjustment, ref_logits, ref_tde

NOT_INSTALLED = ('mmdet', 'mmcv', 'mmengine', 'faster_coco_eval', 'cv2', 'lvis', 'pycocotools')

# Imports as on a machine with torch only: every module of NOT_INSTALLED is missing.
TORCH_ONLY = r'''
import importlib.abc, json, sys

NOT_INSTALLED = %r


class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition('.')[0] in NOT_INSTALLED:
            raise ModuleNotFoundError(f'No module named {name!r}', name=name)


sys.meta_path.insert(0, NotInstalled())
import torch

import mmdet_tde
from mmdet_tde.models.layers import (CausalNormClassifier, DeconfoundConv2d, graph_matching_loss,
                                     intra_margin_loss, posthoc_logit_adjustment,
                                     select_exemplars)

g = torch.Generator().manual_seed(0)
x = torch.randn(4, 8, generator=g, dtype=torch.float64)
clf = CausalNormClassifier(8, 5, num_heads=2, tau=10.0, gamma=0.1, alpha=1.5).double()
clf.update_head_direction(x.abs())
z_old, z_new = (torch.randn(6, 3, generator=g, dtype=torch.float64) for _ in range(2))
conv = DeconfoundConv2d(8, 3, num_heads=2)
print(json.dumps(dict(
    version=mmdet_tde.__version__, x=x.tolist(), weight=clf.weight.tolist(),
    head_direction=clf.head_direction.tolist(), logits=clf(x).tolist(), tde=clf.tde(x).tolist(),
    z_old=z_old.tolist(), z_new=z_new.tolist(), graph=graph_matching_loss(z_old, z_new).item(),
    intra=intra_margin_loss(clf(x), torch.tensor([0, 1, 2, 0])).item(),
    exemplars=select_exemplars(x, 2).tolist(),
    conv_shape=list(conv(torch.randn(1, 8, 2, 3, generator=g)).shape),
    adjusted=posthoc_logit_adjustment(clf(x), [100, 10, 3, 1], 1.0).tolist(),
    loaded=sorted(m for m in sys.modules if m.partition('.')[0] in NOT_INSTALLED))))
''' % (NOT_INSTALLED, )


def run_python(code, repo_root):
    proc = subprocess.run([sys.executable, '-c', code], cwd=repo_root, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.slow
def test_layers_work_with_torch_only(repo_root):
    out = json.loads(run_python(TORCH_ONLY, repo_root))
    assert out['loaded'] == [] and out['version']
    x, w, d = (np.array(out[k]) for k in ('x', 'weight', 'head_direction'))
    np.testing.assert_allclose(out['logits'], ref_logits(x, w, 2, 10.0, 0.1), rtol=1e-10)
    np.testing.assert_allclose(out['tde'], ref_tde(x, w, d, 2, 10.0, 0.1, 1.5), rtol=1e-10)
    np.testing.assert_allclose(out['graph'], ref_graph(out['z_old'], out['z_new'], 'mean'),
                               rtol=1e-12)
    assert np.isfinite(out['intra']) and out['intra'] >= 0
    assert len(set(out['exemplars'])) == 2 and all(0 <= i < 4 for i in out['exemplars'])
    assert out['conv_shape'] == [1, 3, 2, 3]
    np.testing.assert_allclose(out['adjusted'], ref_logit_adjustment(out['logits'], [100, 10, 3, 1],
                                                                     1.0, True), rtol=1e-10)


@pytest.mark.slow
def test_import_registers_the_plugin_in_mmdet(repo_root):
    """What ``custom_imports=dict(imports=['mmdet_tde'])`` does, in a fresh process."""
    code = '''
from mmengine.utils import import_modules_from_strings
import_modules_from_strings(['mmdet_tde'], allow_failed_imports=False)
from mmdet.registry import DATASETS, METRICS, MODELS
print(MODELS.get('TDEShared2FCBBoxHead').__module__, MODELS.get('DeconfoundConv2d').__name__,
      MODELS.get('DualPhaseCascadeRCNN').__name__, METRICS.get('FastLVISMetric').__name__,
      DATASETS.get('DualPhaseLVISV1Dataset').__name__)
'''
    # the last line: onedl-mmdetection prints a notice of its own when mmdet.datasets is imported
    assert run_python(code, repo_root).splitlines()[-1].split() == [
        'mmdet_tde.models.roi_heads.bbox_heads.tde_convfc_bbox_head', 'DeconfoundConv2d',
        'DualPhaseCascadeRCNN', 'FastLVISMetric', 'DualPhaseLVISV1Dataset']
