# GSACP-base: online propagation only, GSACP-Final with its three remedies off. The rung every
# ablation is measured against.
_base_ = './gsacp-final_3k_sirst3.py'
model = dict(teacher=None, decode_head=dict(target_cfg=dict(adaptive=False), loss_contrast=None))
