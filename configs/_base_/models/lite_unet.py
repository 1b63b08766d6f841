# LiteUNet (mmgsacp/models/backbones/lite_unet.py) in place of the compact U-Net: the network for
# deployment on a few CPU cores (about 3 GFLOPs per megapixel against the compact U-Net's 86).
# Same data preprocessor, head type and losses as compact_unet.py.
_base_ = './compact_unet.py'
model = dict(
    backbone=dict(type='LiteUNet', in_channels=1),
    # The head's 3x3 conv is left out: on the 8-channel full-resolution output it would be the
    # costliest layer left at full size, and the backbone's last block already refines there.
    decode_head=dict(in_channels=8, channels=8, num_convs=0))
