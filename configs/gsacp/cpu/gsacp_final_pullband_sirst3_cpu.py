# CPU budget: 1000 iterations of batch 16 (about 10-13 min on 2 cores), the same
# network, crop, batch and iteration count for every method.
_base_ = '../gsacp_final_pullband_sirst3.py'
train_cfg = dict(max_iters=1000, val_interval=1000)
default_hooks = dict(checkpoint=dict(interval=250), logger=dict(interval=25))
model = dict(decode_head=dict(warmup_iters=(100, 400)))
