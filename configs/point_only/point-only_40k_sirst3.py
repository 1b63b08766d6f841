# Point-only: the point pixels are the only positives, everything else background.
_base_ = '../gsacp/gsacp-base_40k_sirst3.py'
model = dict(decode_head=dict(target_cfg=dict(mode='point')))
