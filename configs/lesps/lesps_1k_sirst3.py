# LESPS-style label evolution (Ying et al., CVPR 2023) on the CPU budget.
_base_ = [
    '../_base_/models/lesps_compact_unet.py', '../_base_/datasets/sirst3_coords.py',
    '../_base_/schedules/schedule_1k.py', '../_base_/default_runtime.py'
]
# 1000 iterations = 9.5 epochs of 105. Updates from 12.5% of the run (LESPS's epoch 50 of 400:
# epoch 1 here), every epoch: each image's label is updated ~8 times. LESPS's f = 5 would leave
# one or two updates in the budget. The drift monitor logs the labels' pseudo-mask IoU.
default_hooks = dict(
    label_evolution=dict(
        type='LabelEvolutionHook', start_ratio=0.125, interval=1, patch_size=41),
    drift_monitor=dict(type='DriftMonitorHook', interval=50, grid_interval=0))
