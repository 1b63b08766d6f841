# + Adaptive support geometry: each point's window follows its own evidence.
_base_ = './gsacp-base_1k_sirst3.py'
model = dict(decode_head=dict(target_cfg=dict(adaptive=True, r_min=4, r_max=16)))
