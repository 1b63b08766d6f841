# Compact single-channel U-Net + binary head, trained on full masks (the upper bound). The data
# preprocessor, backbone and head defined here are shared by every model base beside it.
norm_cfg = dict(type='BN', requires_grad=True)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[90.6],
    std=[59.6],
    bgr_to_rgb=False,
    pad_val=0,
    seg_pad_val=255,
    size_divisor=32,
    # Whole images at test time: pad to the network's stride, crop back after.
    test_cfg=dict(size_divisor=32))
model = dict(
    type='IREncoderDecoder',
    data_preprocessor=data_preprocessor,
    # CompactUNet's own defaults (base_channels=16, num_stages=4): only the type and input
    # channels are set, so another backbone replaces it by type alone (dnanet.py).
    backbone=dict(type='CompactUNet', in_channels=1),
    decode_head=dict(
        type='BinaryIRHead',
        in_channels=16,
        channels=16,
        in_index=-1,
        num_convs=1,
        norm_cfg=norm_cfg,
        loss_decode=[
            dict(type='IgnoreBCELoss', loss_weight=1.0),
            dict(type='SoftIoULoss', loss_weight=1.0),
        ]),
    train_cfg=dict(),
    test_cfg=dict(
        mode='whole',
        # Frames above 1024 x 1024 px (SIRST3's are smaller, so its results stay whole-image)
        # run as 512 px windows overlapping by 64 px, to bound memory. One window per forward
        # pass is fastest on CPU (bigger tensors cost page faults); raise it on a GPU.
        max_whole_pixels=1024 * 1024, crop_size=(512, 512), stride=(448, 448),
        crop_batch_size=1))
