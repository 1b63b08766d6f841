# LESPS-style label evolution (Ying et al., CVPR 2023) on the CPU budget.
_base_ = [
    '../_base_/models/lesps_compact_unet.py', '../_base_/datasets/sirst3_coords.py',
    '../_base_/schedules/schedule_1k.py', '../_base_/default_runtime.py'
]
# 1000 iterations = 9.5 epochs of 105. Updates from epoch 3 (~30%), every 2 epochs (3, 5, 7, 9):
# LESPS's f = 5 would leave two updates in the budget.
default_hooks = dict(
    label_evolution=dict(type='LabelEvolutionHook', start_epoch=3, interval=2, patch_size=41))
