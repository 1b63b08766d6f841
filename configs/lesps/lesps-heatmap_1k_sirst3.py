# LESPS with each label-1 pixel (the points) spread into CornerNet's Gaussian heat map in the
# focal loss (sigma = 2 px), as point-only-heatmap_1k_sirst3.py: the same loss for both rows.
_base_ = './lesps_1k_sirst3.py'
model = dict(decode_head=dict(loss_decode=[dict(type='GaussianFocalLoss', sigma=2.0)]))
