# GSACP-Final with a contrastive loss that also pulls each point's ignore band (the drift
# curves show the regions shrinking when only the region is pulled).
_base_ = './gsacp-final_1k_sirst3.py'
model = dict(decode_head=dict(loss_contrast=dict(pull_ignore=True)))
