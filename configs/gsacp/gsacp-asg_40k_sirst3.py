# + Adaptive support geometry: each point's window follows its own evidence (GSACP-Final
# without the EMA teacher and HBC).
_base_ = './gsacp-final_40k_sirst3.py'
model = dict(teacher=None, decode_head=dict(loss_contrast=None))
