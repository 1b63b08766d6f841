# CPU budget (about 13 min on 2 cores): same network, crop and batch for every method.
_base_ = '../gsacp_final_sirst3.py'
train_cfg = dict(max_iters=1500, val_interval=1500)
default_hooks = dict(checkpoint=dict(interval=500), logger=dict(interval=25))
model = dict(decode_head=dict(warmup_iters=(150, 600)))
