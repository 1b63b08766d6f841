# LiteUNet with its deepest level (stride 16) widened from 128 to 192 channels: 1.7x the
# parameters for 1.19x the FLOPs per megapixel, because that level holds 1/256 of the pixels.
# Same budget as full-sup_liteunet_1k_sirst3.py (1000 iterations); only the width differs.
_base_ = './full-sup_liteunet_1k_sirst3.py'
model = dict(backbone=dict(channels=(16, 32, 64, 192)))
