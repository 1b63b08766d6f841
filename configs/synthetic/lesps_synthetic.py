# lesps on the embedded synthetic set (`python tools/make_synthetic.py data/synthetic`).
_base_ = '../baselines/lesps_sirst3.py'
data_root = 'data/synthetic'
train_dataloader = dict(
    batch_size=8, dataset=dict(data_root=data_root, ann_file='img_idx/train_synthetic.txt'))
val_dataloader = dict(
    dataset=dict(data_root=data_root, ann_file='img_idx/test_synthetic.txt'))
test_dataloader = val_dataloader
train_cfg = dict(max_iters=1200, val_interval=1200)
# 600 iterations = 30 epochs of 20 (160 images, batch 8): updates from epoch 9, every 4.
default_hooks = dict(
    checkpoint=dict(interval=300), logger=dict(interval=20),
    label_evolution=dict(start_epoch=9, interval=4))
