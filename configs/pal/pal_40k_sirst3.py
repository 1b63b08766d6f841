# PAL (Yu et al., ICCV 2025) at full length (~381 epochs): its own period, 5 of 400 epochs
# (1.25 % of the run), on whole-image predictions.
_base_ = [
    '../_base_/models/pal_compact_unet.py', '../_base_/datasets/sirst3_coords.py',
    '../_base_/schedules/schedule_40k.py', '../_base_/default_runtime.py'
]
train_dataloader = dict(sampler=dict(type='ActiveSubsetSampler', shuffle=True))
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False, begin=0)]
default_hooks = dict(
    pal=dict(type='PALHook', interval_ratio=0.0125, infer_window=None),
    drift_monitor=dict(type='DriftMonitorHook', interval=50, grid_interval=0))
