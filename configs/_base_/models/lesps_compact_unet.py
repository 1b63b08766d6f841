# LESPS-style label evolution (Ying et al., CVPR 2023) on the compact U-Net: the plain binary
# head trained on labels that start as the points and grow from the network's own predictions.
# Needs the coordinate pipeline (datasets/sirst3_coords.py) and a LabelEvolutionHook.
_base_ = './compact_unet.py'
model = dict(
    type='LabelEvolutionSegmentor',
    evolve_cfg=dict(tb=0.5, k=0.5, size=33, area_ratio=0.0015, area_ref='image'),
    # LESPS's loss: the Gaussian (CornerNet) focal loss on the soft labels, no IoU term (its
    # authors: IoU losses keep point supervision from converging)
    decode_head=dict(loss_decode=[dict(type='GaussianFocalLoss', loss_weight=1.0)]))
