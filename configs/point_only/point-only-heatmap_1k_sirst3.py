# Point-only under CornerNet's own form of the focal loss: each point pixel spread into a
# Gaussian heat map, so the target pixels beside the point are hardly pushed down. sigma = 2 px:
# on SIRST3 at this budget it scored 15.79 mIoU / 86.84 Pd against 3.24 / 61.46 at sigma = 1
# (configs/point_only/README.md). Otherwise point-only_1k_sirst3.py (written out: the config
# tree stays three levels deep).
_base_ = '../gsacp/gsacp-final_1k_sirst3.py'
model = dict(teacher=None, decode_head=dict(
    target_cfg=dict(mode='point', adaptive=False), loss_contrast=None,
    loss_decode=[dict(type='GaussianFocalLoss', sigma=2.0)]))
