# Full supervision with deep supervision: a 1x1 binary classifier on the compact U-Net's 1/2
# and 1/4 decoder features, trained on the same masks and weighted like the main head (as
# DNANet weighs its outputs). Training only: inference runs the main head alone, so the
# network's speed and size are the plain CompactUNet's.
_base_ = './full-sup_1k_sirst3.py'
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(auxiliary_head=[
    dict(type='BinaryIRHead', in_channels=channels, channels=channels, in_index=index,
         num_convs=0, norm_cfg=norm_cfg)
    for index, channels in ((-2, 32), (-3, 64))
])
