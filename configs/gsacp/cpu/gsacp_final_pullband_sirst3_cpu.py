# GSACP-Final on the CPU budget, with a contrastive loss that also pulls each point's ignore
# band (the drift curves show the regions shrinking when only the region is pulled).
_base_ = '../gsacp_final_sirst3.py'
train_cfg = dict(max_iters=1000, val_interval=1000)
default_hooks = dict(checkpoint=dict(interval=250), logger=dict(interval=25))
# A first-form ablation: the band pull exists only in that form.
model = dict(
    decode_head=dict(
        warmup_iters=(100, 400), target_cfg=dict(rule='v1'),
        loss_contrast=dict(pull_ignore=True)))
