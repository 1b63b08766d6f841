# + Local EMA teacher decoupling: targets come from a slow copy of the network (GSACP-Final
# without HBC and ASG).
_base_ = './gsacp-final_1k_sirst3.py'
model = dict(decode_head=dict(target_cfg=dict(adaptive=False), loss_contrast=None))
