# GSACP-Final with the outer band (gsacp-final-band_1k_sirst3.py) decided by the EMA teacher's
# probability instead of the affinity: a band pixel is target at p >= 0.5, background at
# p <= 0.2, ignored between; the core still abstains by the affinity.
_base_ = './gsacp-final_1k_sirst3.py'
model = dict(decode_head=dict(
    target_cfg=dict(band_steps=2, band_source='prediction', band_tau=(0.5, 0.2))))
