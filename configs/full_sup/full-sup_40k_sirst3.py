# Full supervision (true masks): the upper bound, same network, data and schedule.
_base_ = [
    '../_base_/models/compact_unet.py', '../_base_/datasets/sirst3.py',
    '../_base_/schedules/schedule_40k.py', '../_base_/default_runtime.py'
]
