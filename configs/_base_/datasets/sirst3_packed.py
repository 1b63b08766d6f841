# SIRST3 training from a packed split held in memory: the train split is decoded once into one
# .npz (`python tools/dataset_converters/pack_split.py data/SIRST3
# --split img_idx/train_SIRST3.txt --point-type centroid
# --out data/packed/SIRST3_train_centroid.npz`), and the model's data preprocessor crops, flips
# and normalises whole batches on its device. Same augmentation as sirst3.py's train_pipeline;
# validation and test are sirst3.py's. A method config takes the preprocessor with
# `model = dict(data_preprocessor={{_base_.packed_preprocessor}})`.
_base_ = './sirst3.py'
packed_file = 'data/packed/SIRST3_train_centroid.npz'
train_dataloader = dict(
    # Samples are indices: loader workers have nothing to do.
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        _delete_=True,
        type='PackedPointDataset',
        pack_file=packed_file,
        # The split the file must hold (checked; a missing or stale file names its command).
        data_root={{_base_.data_root}},
        ann_file='img_idx/train_SIRST3.txt',
        point_type='centroid',
        pipeline=[dict(type='PackSampleIndex')]))
packed_preprocessor = dict(
    type='PackedPointDataPreProcessor',
    crop_size={{_base_.crop_size}},
    target_prob=0.9,
    flip_prob=0.5,
    transpose_prob=0.5)
