# GSACP-Final: online propagation with all three remedies (EMA teacher + HBC + ASG), the model
# base as it stands. The ablation rungs inherit it; tests/test_configs.py checks that each rung
# differs from GSACP-base in its own remedy only and that Final is the base plus all three.
_base_ = [
    '../_base_/models/gsacp_compact_unet.py', '../_base_/datasets/sirst3.py',
    '../_base_/schedules/schedule_1k.py', '../_base_/default_runtime.py'
]
default_hooks = dict(drift_monitor=dict(type='DriftMonitorHook', interval=50, grid_interval=1000))
