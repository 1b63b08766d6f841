# Prior-only on coarse points (SIRST3's masks_coarse): the pair of gsacp-final-coarse. It restates
# prior-only's switches over GSACP-Final (inheriting prior-only would make a fourth level);
# tests/test_configs.py checks it differs from prior-only in the point type only.
_base_ = '../gsacp/gsacp-final_1k_sirst3.py'
model = dict(teacher=None, decode_head=dict(
    target_cfg=dict(mode='prior', adaptive=False), loss_contrast=None))
train_dataloader = dict(dataset=dict(point_type='coarse'))
