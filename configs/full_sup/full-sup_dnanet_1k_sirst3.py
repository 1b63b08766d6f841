# Full supervision with DNANet (4.7 M parameters) on the CPU budget: the reference the compact
# network's mIoU is measured against (same data, crop, batch, schedule and iteration count).
_base_ = [
    '../_base_/models/dnanet.py', '../_base_/datasets/sirst3.py',
    '../_base_/schedules/schedule_1k.py', '../_base_/default_runtime.py'
]
