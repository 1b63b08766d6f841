# Prior-only: intensity-gated growth from each point, no features.
_base_ = '../gsacp/gsacp-base_1k_sirst3.py'
model = dict(decode_head=dict(target_cfg=dict(mode='prior')))
