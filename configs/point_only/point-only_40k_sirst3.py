# Point-only, as LESPS trains it without evolution: the point pixels are the only positives,
# everything else background, under the Gaussian (CornerNet) focal loss (no soft IoU).
_base_ = '../gsacp/gsacp-final_40k_sirst3.py'
# GSACP-base's switches (no remedy), with the point pixels as the targets.
model = dict(teacher=None, decode_head=dict(
    target_cfg=dict(mode='point', adaptive=False), loss_contrast=None,
    loss_decode=[dict(type='GaussianFocalLoss')]))
