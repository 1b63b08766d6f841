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
    # Atomic checkpoint and `last_checkpoint` writes, old checkpoints deleted only after the new
    # one is complete, leftovers of a killed save cleaned at start: a crash or a full disk never
    # leaves a run without a checkpoint `--resume` can load.
    checkpoint=dict(
        type='AtomicCheckpointHook', by_epoch=False, interval=2000, max_keep_ckpts=2,
        save_last=True, save_best='mIoU', rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # Stops on a NaN/inf loss before the bad step can be checkpointed.
    invalid_loss=dict(type='InvalidLossGuardHook'),
    # Checkpoints that torch.load(weights_only=True) accepts (torch >= 2.6 default).
    safe_checkpoint=dict(type='SafeCheckpointHook'),
)
# mmgsacp's hooks live in `default_hooks` (a dict, merged key by key), so an ablation adds its
# hook in one line without restating the others.
randomness = dict(seed=0)
