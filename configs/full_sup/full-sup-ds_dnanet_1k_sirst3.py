# DNANet with its deep supervision (the paper's setting): the four nested full-resolution
# nodes X[0][1..4] each get a 1x1 binary classifier, weighted like the main head on the fused
# output. Training only: inference runs the main head alone.
_base_ = './full-sup_dnanet_1k_sirst3.py'
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    backbone=dict(deep_supervision=True),
    auxiliary_head=[
        dict(type='BinaryIRHead', in_channels=16, channels=16, in_index=index, num_convs=0,
             norm_cfg=norm_cfg)
        for index in range(4)
    ])
