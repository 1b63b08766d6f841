# full-sup_40k_sirst3.py trained from the packed split in memory, augmented batch-wise on the
# model's device (configs/_base_/datasets/sirst3_packed.py; write the file first).
_base_ = [
    '../_base_/models/compact_unet.py', '../_base_/datasets/sirst3_packed.py',
    '../_base_/schedules/schedule_40k.py', '../_base_/default_runtime.py'
]
model = dict(data_preprocessor={{_base_.packed_preprocessor}})
