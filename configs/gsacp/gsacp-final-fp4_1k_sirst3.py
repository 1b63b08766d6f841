# GSACP-Final with the teacher's false-positive pixels weighted x4 as background (the earlier
# default; x16 now): the ablation of that weight.
_base_ = './gsacp-final_1k_sirst3.py'
model = dict(decode_head=dict(loss_contrast=dict(fp_weight=4.0)))
