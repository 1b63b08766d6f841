# PAL on coarse points (SIRST3's masks_coarse), the label type of its best published row.
_base_ = './pal_1k_sirst3.py'
train_dataloader = dict(dataset=dict(point_type='coarse'))
