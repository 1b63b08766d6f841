# PAL with the cosine decay every other method of the benchmark trains with (AdamW 1e-3 to 1e-5)
# in place of its authors' constant learning rate: one variable, to measure how much of PAL's
# false-alarm lead the schedule explains.
_base_ = './pal_1k_sirst3.py'
param_scheduler = [dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=False, begin=0)]
