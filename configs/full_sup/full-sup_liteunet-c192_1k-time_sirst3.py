# The two LiteUNet changes together: the deepest level widened to 192 channels
# (full-sup_liteunet-c192_1k_sirst3.py), trained for the equal-time run's 1600 iterations
# (full-sup_liteunet_1k-time_sirst3.py) with the cosine decay ending there. That length is the
# compact network's time on 2 cores; on one thread per run LiteUNet's step is far cheaper and the
# same time buys about 4400 iterations (docs/en/user_guides/speed.md). Both restated over
# LiteUNet (inheriting either would make a fourth level).
_base_ = './full-sup_liteunet_1k_sirst3.py'
model = dict(backbone=dict(channels=(16, 32, 64, 192)))
train_cfg = dict(max_iters=1600, val_interval=1600)
