# CPU budget: 1000 iterations of batch 16 (about 10-13 min on 2 cores), the same
# network, crop, batch and iteration count for every method.
_base_ = '../lesps_sirst3.py'
train_cfg = dict(max_iters=1000, val_interval=1000)
# 1000 iterations = 9.5 epochs of 105. Updates from epoch 3 (~30%), every 2 epochs (3, 5, 7, 9):
# LESPS's f = 5 would leave two updates in the budget.
default_hooks = dict(
    checkpoint=dict(interval=250), logger=dict(interval=25),
    label_evolution=dict(start_epoch=3, interval=2))
