# Prior-only with the cosine decay stopped at a fifth of the initial rate: the pair of
# gsacp-final-floor. It restates prior-only's switches over GSACP-Final (inheriting prior-only
# would make a fourth level); tests/test_configs.py checks it differs from prior-only in the
# schedule only.
_base_ = '../gsacp/gsacp-final_1k_sirst3.py'
model = dict(teacher=None, decode_head=dict(
    target_cfg=dict(mode='prior', adaptive=False), loss_contrast=None))
param_scheduler = [dict(type='CosineAnnealingLR', eta_min=2e-4, by_epoch=False, begin=0)]
