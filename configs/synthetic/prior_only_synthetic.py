# prior_only on the embedded synthetic set (`python tools/make_synthetic.py data/synthetic`).
_base_ = '../baselines/prior_only_sirst3.py'
data_root = 'data/synthetic'
train_dataloader = dict(
    batch_size=8, dataset=dict(data_root=data_root, ann_file='img_idx/train_synthetic.txt'))
val_dataloader = dict(
    dataset=dict(data_root=data_root, ann_file='img_idx/test_synthetic.txt'))
test_dataloader = val_dataloader
train_cfg = dict(max_iters=1200, val_interval=1200)
default_hooks = dict(checkpoint=dict(interval=600), logger=dict(interval=50))
model = dict(decode_head=dict(warmup_iters=(200, 600)))
