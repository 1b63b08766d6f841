# Prior-only: intensity-gated growth from each point, no features (docs/en/method.md,
# 'Local image priors').
_base_ = '../gsacp/gsacp-base_40k_sirst3.py'
model = dict(decode_head=dict(target_cfg=dict(mode='prior')))
