# Prior-only with the outer band ignored rather than background: the pair of
# gsacp-final-ignoreband, to tell what the ignored rim gives the prior alone from what it gives
# GSACP. It restates prior-only's switches over GSACP-Final (inheriting prior-only would make a
# fourth level); tests/test_configs.py checks it differs from prior-only in the band only.
_base_ = '../gsacp/gsacp-final_1k_sirst3.py'
model = dict(teacher=None, decode_head=dict(
    target_cfg=dict(mode='prior', adaptive=False, band_steps=2, band_source='ignore'),
    loss_contrast=None))
