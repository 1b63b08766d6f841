# LESPS-style label evolution (Ying et al., CVPR 2023): a plain binary head trained on labels
# that start as the points and grow from the network's own predictions every few epochs.
_base_ = './full_sup_sirst3.py'
crop_size = (128, 128)
train_pipeline = [
    dict(type='LoadIRImageFromFile'),
    dict(type='LoadIRAnnotations', with_mask=True),  # masks: label_iou monitoring only
    # each crop pixel's original (x, y): the labels are kept in original image coordinates
    dict(type='LoadPixelCoordinates'),
    dict(type='TargetAwareRandomCrop', crop_size=crop_size, target_prob=0.9),
    dict(type='RandomFlipIR', prob=0.5),
    dict(type='RandomTranspose', prob=0.5),
    dict(type='PackIRInputsWithCoords'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
model = dict(
    type='LabelEvolutionSegmentor',
    evolve_cfg=dict(tb=0.5, k=0.5, size=33, area_ratio=0.0015, area_ref='image'),
    # soft IoU over the whole batch, as LESPS trains: per image, one-pixel labels make an
    # empty prediction a minimum (see SoftIoULoss)
    decode_head=dict(loss_decode=[
        dict(type='IgnoreBCELoss', loss_weight=1.0),
        dict(type='SoftIoULoss', loss_weight=1.0, reduction='batch'),
    ]))
# ~381 epochs of 105 iterations: updates from ~30% of training, every f = 5 epochs (LESPS's f).
default_hooks = dict(
    label_evolution=dict(type='LabelEvolutionHook', start_epoch=115, interval=5, patch_size=41))
