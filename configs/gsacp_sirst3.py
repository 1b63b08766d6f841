# GSACP-Final on SIRST3 with centroid points: `python tools/train.py configs/gsacp_sirst3.py`.
_base_ = './gsacp/gsacp-final_40k_sirst3.py'
