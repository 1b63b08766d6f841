# GSACP-Final where a point the strict gate cannot see (core blob under 4 px) is grown again with
# looser gates, (kappa, beta) = (1.5, 0.2) then (1.0, 0.15), and takes the first blob of 4 px or
# more as its core; a point no gate sees ignores its support. On SIRST3 train these 68 of 2386
# points recall 0.48 of their targets at precision 0.77 instead of 0.08 (the point alone).
_base_ = './gsacp-final_1k_sirst3.py'
model = dict(
    decode_head=dict(target_cfg=dict(min_core=4, fallback_gates=((1.5, 0.2), (1.0, 0.15)))))
