# PAL (Yu et al., ICCV 2025) on the CPU budget: easy images first (0-20 %), label updates and
# activation of hard images (20-80 %), updates only (80-100 %).
_base_ = [
    '../_base_/models/pal_compact_unet.py', '../_base_/datasets/sirst3_coords.py',
    '../_base_/schedules/schedule_1k.py', '../_base_/default_runtime.py'
]
train_dataloader = dict(sampler=dict(type='ActiveSubsetSampler', shuffle=True))
# PAL trains at a constant learning rate (AdamW 1e-3)
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False, begin=0)]
# Updates every 10 % of the run (~1 epoch): 7 after the start. Predictions on 64 px squares
# around the points: whole-image predictions of the 1676 training images cost minutes on CPU.
default_hooks = dict(
    pal=dict(type='PALHook', interval_ratio=0.1, infer_window=64),
    drift_monitor=dict(type='DriftMonitorHook', interval=50, grid_interval=0))
