# GSACP-Final with a contrastive loss that also pulls each point's ignore band (the drift
# curves show the regions shrinking when only the region is pulled). A first-form ablation:
# the band pull exists only in that form of the targets and the loss.
_base_ = './gsacp-final_1k_sirst3.py'
model = dict(decode_head=dict(target_cfg=dict(rule='v1'), loss_contrast=dict(pull_ignore=True)))
