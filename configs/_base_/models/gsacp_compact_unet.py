# GSACP on the compact U-Net: points become masks online, inside every batch
# (docs/en/method.md).
norm_cfg = dict(type='BN', requires_grad=True)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[90.6],
    std=[59.6],
    bgr_to_rgb=False,
    pad_val=0,
    seg_pad_val=255,
    size_divisor=32,
    test_cfg=dict(size_divisor=32))
model = dict(
    type='PointSupervisedSegmentor',
    data_preprocessor=data_preprocessor,
    backbone=dict(type='CompactUNet', in_channels=1, base_channels=16, num_stages=4),
    decode_head=dict(
        type='AffinityPropagationHead',
        in_channels=16,
        channels=16,
        in_index=-1,
        num_convs=1,
        norm_cfg=norm_cfg,
        embed_channels=16,
        # Defaults of docs/en/method.md: window radius R, gate (kappa, beta), hard margin (taus).
        target_cfg=dict(
            mode='affinity', radius=16, kappa=2.0, beta=0.3, tau_pos=0.8, tau_neg=0.5,
            ring_width=3, adaptive=False),
        # Prior-only growth first; the affinity term fades in (§1.7).
        warmup_iters=(1000, 4000),
        loss_decode=[
            dict(type='IgnoreBCELoss', loss_weight=1.0),
            dict(type='SoftIoULoss', loss_weight=1.0),
        ]),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
# Parts of the head get no gradient in some variants (e.g. the embedding without HBC).
model_wrapper_cfg = dict(type='MMDistributedDataParallel', find_unused_parameters=True)
