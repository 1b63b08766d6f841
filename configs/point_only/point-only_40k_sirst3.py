# Point-only, as LESPS trains it without evolution: the point pixels are the only positives,
# everything else background, under the Gaussian (CornerNet) focal loss (no soft IoU).
_base_ = '../gsacp/gsacp-base_40k_sirst3.py'
model = dict(decode_head=dict(
    target_cfg=dict(mode='point'), loss_decode=[dict(type='GaussianFocalLoss')]))
