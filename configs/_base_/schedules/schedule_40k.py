# About 400 epochs of SIRST3 train (1676 images, batch 16), the published runs' length.
# DeferredLogOptimWrapper: MMEngine's OptimWrapper, but the clipped gradient norm is logged
# without making the host wait for the device every step (read with the losses, below).
optim_wrapper = dict(
    type='DeferredLogOptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=1e-4),
    clip_grad=dict(max_norm=10.0))
# No `end`: MMEngine ends each scheduler at train_cfg.max_iters, so a shorter schedule only
# overrides the lengths below.
param_scheduler = [dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=False, begin=0)]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=40000, val_interval=4000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

default_hooks = dict(
    # MMEngine's RuntimeInfoHook, except that the loss terms and the gradient norm stay on the
    # device and are read back together once per log line (and before each checkpoint,
    # validation and the end): the same log, without a host-device wait per term per step.
    runtime_info=dict(type='DeferredRuntimeInfoHook'),
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # Atomic checkpoint and `last_checkpoint` writes, old checkpoints deleted only after the new
    # one is complete, leftovers of a killed save cleaned at start: a crash or a full disk never
    # leaves a run without a checkpoint `--resume` can load. No `save_best`: the validation
    # list is SIRST3's test list, and every method is scored with its final checkpoint (a
    # checkpoint chosen on the test list would flatter it).
    checkpoint=dict(
        type='AtomicCheckpointHook', by_epoch=False, interval=2000, max_keep_ckpts=2,
        save_last=True),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # Stops on a NaN/inf loss before the bad step can be checkpointed.
    invalid_loss=dict(type='InvalidLossGuardHook'),
    # Checkpoints that torch.load(weights_only=True) accepts (torch >= 2.6 default).
    safe_checkpoint=dict(type='SafeCheckpointHook'),
    # Updates model.teacher after each iteration when the model has one; no-op otherwise.
    ema_teacher=dict(type='EMATeacherHook'),
)
# mmgsacp's hooks live in `default_hooks` (a dict, merged key by key), so a method adds its
# hook in one line without restating the others.
