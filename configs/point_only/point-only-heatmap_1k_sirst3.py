# Point-only under CornerNet's own form of the focal loss: each point pixel spread into a
# Gaussian heat map (sigma = 1 px), so the target pixels beside the point are hardly pushed down.
# Otherwise point-only_1k_sirst3.py (written out: the config tree stays three levels deep).
_base_ = '../gsacp/gsacp-final_1k_sirst3.py'
model = dict(teacher=None, decode_head=dict(
    target_cfg=dict(mode='point', adaptive=False), loss_contrast=None,
    loss_decode=[dict(type='GaussianFocalLoss', sigma=1.0)]))
