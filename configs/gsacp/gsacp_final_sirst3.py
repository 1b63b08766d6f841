# GSACP-Final: all three remedies (EMA teacher + HBC + ASG) over GSACP-base.
_base_ = './gsacp_base_sirst3.py'
model = dict(
    teacher=dict(scope='full', momentum=0.01),
    decode_head=dict(
        target_cfg=dict(adaptive=True, r_min=4, r_max=16),
        loss_contrast=dict(
            type='HardBackgroundContrastiveLoss', mode='infonce', temperature=0.1,
            num_negatives=64, loss_weight=0.1)))
