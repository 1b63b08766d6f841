# GSACP-Final trained with PAL's segmentation loss (BCE x4 on the targets' edge band, mean over
# the hardest half of the labelled pixels) in place of BCE + soft IoU: does PAL's lower false-alarm
# rate come from its loss? HBC's x4 on the teacher's false-positive pixels multiplies the edge
# weighting, so those pixels are also the first to count as hard; targets and contrast are Final's.
_base_ = './gsacp-final_1k_sirst3.py'
model = dict(decode_head=dict(loss_decode=[
    dict(type='EdgeWeightedBCELoss', edge_weight=4.0, hard_ratio=0.5)]))
