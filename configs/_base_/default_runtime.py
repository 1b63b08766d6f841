default_scope = 'mmseg'
custom_imports = dict(imports=['mmgsacp'], allow_failed_imports=False)

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(
    type='SegLocalVisualizer', vis_backends=vis_backends, name='visualizer', alpha=0.5)
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # Atomic writes: an interrupted save never replaces a good checkpoint.
    checkpoint=dict(
        type='CheckpointHook', by_epoch=False, interval=2000, max_keep_ckpts=2,
        save_last=True, save_best='mIoU', rule='greater',
        backend_args=dict(backend='atomic_local')),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # Stops on a NaN/inf loss before the bad step can be checkpointed.
    invalid_loss=dict(type='InvalidLossGuardHook'),
    # Checkpoints that torch.load(weights_only=True) accepts (torch >= 2.6 default).
    safe_checkpoint=dict(type='SafeCheckpointHook'),
    # Updates model.teacher after each iteration when the model has one; no-op otherwise.
    ema_teacher=dict(type='EMATeacherHook'),
)
# mmgsacp's hooks live in `default_hooks` (a dict, merged key by key), so an ablation adds its
# hook in one line without restating the others.
randomness = dict(seed=0)
