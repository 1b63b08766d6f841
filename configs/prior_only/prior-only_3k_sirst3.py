# Prior-only: intensity-gated growth from each point, no features.
_base_ = '../gsacp/gsacp-final_3k_sirst3.py'
# GSACP-base's switches (no remedy) with the prior's growth as the target rule.
model = dict(teacher=None, decode_head=dict(
    target_cfg=dict(mode='prior', adaptive=False), loss_contrast=None))
