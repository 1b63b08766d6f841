# SIRST3 with single-point (centroid) labels. Training reads points only for the loss; the
# full masks are loaded for the drift monitor and never reach the loss (see
# PointSupervisedSegmentor). Tests run whole images at original size.
dataset_type = 'PointSIRSTDataset'
# A link to the data set (`make data`, or `ln -sfn /path/to/SIRST3 data/SIRST3`).
data_root = 'data/SIRST3'
crop_size = (128, 128)

train_pipeline = [
    dict(type='LoadIRImageFromFile'),
    dict(type='LoadIRAnnotations', with_mask=True),
    dict(type='TargetAwareRandomCrop', crop_size=crop_size, target_prob=0.9),
    dict(type='RandomFlipIR', prob=0.5),
    dict(type='RandomTranspose', prob=0.5),
    dict(type='PackIRInputs'),
]
test_pipeline = [
    dict(type='LoadIRImageFromFile'),
    dict(type='LoadIRAnnotations', with_mask=True),
    dict(type='PackIRInputs'),
]

train_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='img_idx/train_SIRST3.txt',
        point_type='centroid',
        pipeline=train_pipeline))
# Validation reads the same set with the same workers: one image at a time, in order, with
# whole-image annotations (no points) and the test pipeline.
val_dataloader = dict(
    train_dataloader,
    batch_size=1,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        train_dataloader['dataset'],
        ann_file='img_idx/test_SIRST3.txt',
        point_type=None,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IRSTDMetric')
test_evaluator = val_evaluator
