# GSACP-Final without the outer band: the core blob, where the affinity may only abstain, with
# the three remedies. Isolates what the band adds (the band the affinity decides is measured no
# better than taking it at random at this budget; see the experiments guide).
_base_ = './gsacp-final_1k_sirst3.py'
model = dict(decode_head=dict(target_cfg=dict(band_steps=0)))
