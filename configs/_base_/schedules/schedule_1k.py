# The CPU budget: 1000 iterations of batch 16, the same for every
# method. Optimiser, cosine decay and hooks as in the 40k schedule.
_base_ = './schedule_40k.py'
train_cfg = dict(max_iters=1000, val_interval=1000)
default_hooks = dict(checkpoint=dict(interval=250), logger=dict(interval=25))
