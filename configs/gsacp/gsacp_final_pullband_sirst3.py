# GSACP-Final whose contrastive loss also pulls each point's ignore band (see the drift curves
# in the README: pulling the region alone shrinks the regions step after step).
_base_ = './gsacp_final_sirst3.py'
model = dict(decode_head=dict(loss_contrast=dict(pull_ignore=True)))
