# DNANet (4.7 M parameters, Li et al., IEEE TIP 2023) in place of the compact U-Net: same data
# preprocessor and binary head (its last nested node has 16 channels, like the U-Net's output).
_base_ = './compact_unet.py'
model = dict(backbone=dict(type='DNANet'))
