# + Hard-background contrastive separation on the head's features (GSACP-Final without the
# EMA teacher and ASG).
_base_ = './gsacp-final_40k_sirst3.py'
model = dict(teacher=None, decode_head=dict(target_cfg=dict(adaptive=False)))
