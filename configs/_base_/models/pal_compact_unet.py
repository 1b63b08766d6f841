# PAL (Yu et al., ICCV 2025) on the compact U-Net: the plain binary head trained on stored 8-bit
# labels that PALHook builds from the points and rewrites during training. Needs the coordinate
# pipeline (datasets/sirst3_coords.py), an ActiveSubsetSampler and a PALHook.
_base_ = './compact_unet.py'
model = dict(
    type='StoredLabelSegmentor',
    # PAL's loss: BCE, x4 on the targets' one-pixel edge band, mean over the hardest 50 % of
    # pixels; labels binarised at 127.5 of 255
    decode_head=dict(loss_decode=[
        dict(type='EdgeWeightedBCELoss', edge_weight=4.0, hard_ratio=0.5, binarize_at=0.5)]))
