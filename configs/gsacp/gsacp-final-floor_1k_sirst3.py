# GSACP-Final with the cosine decay stopped at a fifth of the initial rate (2e-4 instead of
# 1e-5): a schedule between the benchmark's decay and PAL's constant rate, which traded Pd for
# false alarms. One variable.
_base_ = './gsacp-final_1k_sirst3.py'
param_scheduler = [dict(type='CosineAnnealingLR', eta_min=2e-4, by_epoch=False, begin=0)]
