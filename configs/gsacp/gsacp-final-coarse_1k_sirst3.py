# GSACP-Final on coarse points (SIRST3's masks_coarse), beside PAL's coarse row.
_base_ = './gsacp-final_1k_sirst3.py'
train_dataloader = dict(dataset=dict(point_type='coarse'))
