# GSACP on the compact U-Net: points become masks online, inside every batch (GSACP.md §1).
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
        # GSACP.md §1 defaults: window radius R, gate (kappa, beta), hard margin (taus).
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
    test_cfg=dict(
        mode='whole',
        # Frames above 1024 x 1024 px (SIRST3's are smaller, so its results stay whole-image)
        # run as 512 px windows overlapping by 64 px, to bound memory. One window per forward
        # pass is fastest on CPU (bigger tensors cost page faults); raise it on a GPU.
        max_whole_pixels=1024 * 1024, crop_size=(512, 512), stride=(448, 448),
        crop_batch_size=1))
# Parts of the head get no gradient in some variants (e.g. the embedding without HBC).
model_wrapper_cfg = dict(type='MMDistributedDataParallel', find_unused_parameters=True)
