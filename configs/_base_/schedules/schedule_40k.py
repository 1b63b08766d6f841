# About 400 epochs of SIRST3 train (1676 images, batch 16), the published runs' length.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=1e-4),
    clip_grad=dict(max_norm=10.0))
# No `end`: MMEngine ends each scheduler at train_cfg.max_iters, so a shorter
# schedule only needs to override max_iters.
param_scheduler = [dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=False, begin=0)]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=40000, val_interval=4000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
