# mini-LVIS, dual-phase training with the TDE heads, phase II: cascade_phase2_r18_minilvis.py with
# the causal-norm classifier (configs/_base_/models/tde_predictor.py), taught by the TDE phase-I
# model. The head direction continues from phase I; testing uses TDE (tools/sweep_alpha.py:
# alpha 0 is dual-phase alone).
_base_ = ['./cascade_phase2_r18_minilvis.py', '../../_base_/models/tde_predictor.py']

# mmengine reads a base before the config that inherits it: the paths
# cascade_phase2_r18_minilvis.py builds from its phase1 are built again here from this one's.
phase1 = 'cascade_tde_phase1_r18_minilvis'
phase1_dir = f'work_dirs/{phase1}/'
model = dict(
    teacher_config=f'configs/minilvis/dual_phase/{phase1}.py',
    teacher_checkpoint=phase1_dir + 'epoch_4.pth',
    roi_head=dict(
        # L_intra back, on the causal-norm classifier's cosine scores (the paper's form; the
        # linear phase-II config this one inherits leaves it out)
        intra_loss_weight=_base_.dual_phase_roi_head.intra_loss_weight,
        bbox_head=[
            dict(head, type='TDEShared2FCBBoxHead', cls_predictor_cfg=_base_.tde_predictor)
            for head in _base_.model.roi_head.bbox_head
        ]))
train_dataloader = dict(dataset=dict(memory_file=phase1_dir + 'dual_phase_memory.json'))
load_from = phase1_dir + 'dual_phase_phase2_init.pth'
