# Three times the CPU budget: 3000 iterations of batch 16. Optimiser, cosine decay and hooks as
# in the 40k schedule.
_base_ = './schedule_40k.py'
train_cfg = dict(max_iters=3000, val_interval=3000)
default_hooks = dict(checkpoint=dict(interval=750), logger=dict(interval=25))
