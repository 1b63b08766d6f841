# Prior-only at a constant learning rate: the pair of gsacp-final-constant, so that the schedule
# changes for both sides of the GSACP-Final / prior-only comparison at once. It restates
# prior-only's switches over GSACP-Final (inheriting prior-only would make a fourth level);
# tests/test_configs.py checks it differs from prior-only in the schedule only.
_base_ = '../gsacp/gsacp-final_1k_sirst3.py'
model = dict(teacher=None, decode_head=dict(
    target_cfg=dict(mode='prior', adaptive=False), loss_contrast=None))
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False, begin=0)]
