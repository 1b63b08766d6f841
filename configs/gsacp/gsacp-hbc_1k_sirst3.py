# + Hard-background contrastive separation on the embedding.
_base_ = './gsacp-base_1k_sirst3.py'
model = dict(
    decode_head=dict(
        loss_contrast=dict(
            type='HardBackgroundContrastiveLoss', mode='infonce', temperature=0.1,
            num_negatives=64, loss_weight=0.1)))
