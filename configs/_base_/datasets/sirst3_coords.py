# SIRST3 whose training crops also carry each pixel's original (x, y), for methods that keep
# labels in original image coordinates (LESPS's evolving labels).
_base_ = './sirst3.py'
train_pipeline = [
    dict(type='LoadIRImageFromFile'),
    dict(type='LoadIRAnnotations', with_mask=True),  # masks: label_iou monitoring only
    dict(type='LoadPixelCoordinates'),
    dict(type='TargetAwareRandomCrop', crop_size={{_base_.crop_size}}, target_prob=0.9),
    dict(type='RandomFlipIR', prob=0.5),
    dict(type='RandomTranspose', prob=0.5),
    dict(type='PackIRInputsWithCoords'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
