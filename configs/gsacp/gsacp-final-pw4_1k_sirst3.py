# GSACP-Final with the target term of the BCE weighted x4 (`pos_weight`): the counterweight of
# the teacher's false positives x16 as background, so that a missed target costs as much as the
# clutter does and the lower false-alarm rate is not bought with detections. One variable.
_base_ = './gsacp-final_1k_sirst3.py'
model = dict(decode_head=dict(loss_decode=[
    dict(type='IgnoreBCELoss', loss_weight=1.0, pos_weight=4.0),
    dict(type='SoftIoULoss', loss_weight=1.0),
]))
