# prior-only_40k_sirst3.py trained from the packed split in memory (the growth reads the
# batch's images and points, which the packed data preprocessor gives as the per-sample
# pipeline does).
_base_ = '../gsacp/gsacp-final-packed_40k_sirst3.py'
# GSACP-base's switches (no remedy) with the prior's growth as the target rule.
model = dict(teacher=None, decode_head=dict(
    target_cfg=dict(mode='prior', adaptive=False), loss_contrast=None))
