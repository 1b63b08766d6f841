# Prior-only: intensity-gated growth from each point (GSACP.md §1.4), no features.
_base_ = '../gsacp/gsacp_base_sirst3.py'
model = dict(decode_head=dict(target_cfg=dict(mode='prior')))
