# LESPS-style label evolution (Ying et al., CVPR 2023) at full length.
_base_ = [
    '../_base_/models/lesps_compact_unet.py', '../_base_/datasets/sirst3_coords.py',
    '../_base_/schedules/schedule_40k.py', '../_base_/default_runtime.py'
]
# ~381 epochs of 105 iterations: updates from 12.5% of the run (LESPS's epoch 50 of 400),
# every f = 5 epochs (LESPS's f): ~67 updates per image, each by a pass over the whole training
# images after the update epoch, as LESPS's code does.
default_hooks = dict(
    label_evolution=dict(
        type='LabelEvolutionHook', start_ratio=0.125, interval=5, patch_size=41,
        update='pass', infer_window=None),
    drift_monitor=dict(type='DriftMonitorHook', interval=50, grid_interval=0))
