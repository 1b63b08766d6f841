# GSACP-Final at PAL's constant learning rate (AdamW 1e-3 throughout) instead of the benchmark's
# cosine decay: the converse of configs/pal/pal-cosine_1k_sirst3.py, one variable, to measure
# whether the schedule alone moves the false alarms (PAL lost 1.38x Fa when it was decayed).
_base_ = './gsacp-final_1k_sirst3.py'
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False, begin=0)]
