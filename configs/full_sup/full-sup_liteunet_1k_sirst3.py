# Full supervision with LiteUNet, the deployment network (0.1 M parameters, about 3 GFLOPs per
# megapixel), on the CPU budget: compare with full-sup_1k_sirst3.py (same data, crop, batch,
# schedule and iteration count; only the network differs).
_base_ = [
    '../_base_/models/lite_unet.py', '../_base_/datasets/sirst3.py',
    '../_base_/schedules/schedule_1k.py', '../_base_/default_runtime.py'
]
