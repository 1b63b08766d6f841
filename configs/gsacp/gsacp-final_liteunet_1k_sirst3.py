# GSACP-Final with LiteUNet, the deployment network, on the CPU budget: gsacp-final_1k_sirst3.py
# with the network of _base_/models/lite_unet.py (the same three values; tests/test_configs.py
# checks that they match it).
_base_ = './gsacp-final_1k_sirst3.py'
model = dict(
    backbone=dict(type='LiteUNet'),
    decode_head=dict(in_channels=8, channels=8, num_convs=0))
