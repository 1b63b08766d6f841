# Full supervision with DNANet (4.7 M parameters) on the CPU budget: the reference the compact
# network's mIoU is measured against (same data, crop, batch, schedule and iteration count).
_base_ = './full_sup_sirst3_cpu.py'
model = dict(backbone=dict(_delete_=True, type='DNANet', in_channels=1))
