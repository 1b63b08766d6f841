# The embedded synthetic IR set (`python tools/make_synthetic.py data/synthetic`): SIRST3's
# layout, pipelines and metric; its own split lists and a smaller batch (160 training frames).
# Any method config runs on it with its dataset switched (mmgsacp.utils.config.use_synthetic,
# used by tools/demo.py, the benchmarks and the tests), or with this file in place of
# sirst3.py in a config's `_base_` list.
_base_ = './sirst3.py'
data_root = 'data/synthetic'
train_dataloader = dict(
    batch_size=8, dataset=dict(data_root=data_root, ann_file='img_idx/train_synthetic.txt'))
val_dataloader = dict(
    dataset=dict(data_root=data_root, ann_file='img_idx/test_synthetic.txt'))
test_dataloader = val_dataloader
