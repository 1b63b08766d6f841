# GSACP-Final: all three remedies (EMA teacher + HBC + ASG) over GSACP-base. It states
# GSACP-base's bases and drift monitor itself (not inheriting gsacp-base_1k_sirst3.py) so that
# configs/gsacp_sirst3.py stays within three levels of inheritance; tests/test_configs.py checks
# that it equals GSACP-base plus the three remedies.
_base_ = [
    '../_base_/models/gsacp_compact_unet.py', '../_base_/datasets/sirst3.py',
    '../_base_/schedules/schedule_1k.py', '../_base_/default_runtime.py'
]
model = dict(
    teacher=dict(scope='full', momentum=0.01),
    decode_head=dict(
        target_cfg=dict(adaptive=True, r_min=4, r_max=16),
        loss_contrast=dict(
            type='HardBackgroundContrastiveLoss', mode='infonce', temperature=0.1,
            num_negatives=64, loss_weight=0.1)))
default_hooks = dict(
    drift_monitor=dict(type='DriftMonitorHook', interval=50, grid_interval=1000))
