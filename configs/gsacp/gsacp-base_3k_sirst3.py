# GSACP-base: online propagation only (no remedy). The rung every ablation starts from.
_base_ = [
    '../_base_/models/gsacp_compact_unet.py', '../_base_/datasets/sirst3.py',
    '../_base_/schedules/schedule_3k.py', '../_base_/default_runtime.py'
]
default_hooks = dict(drift_monitor=dict(type='DriftMonitorHook', interval=50, grid_interval=1000))
