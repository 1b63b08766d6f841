# LiteUNet-c192 (full-sup_liteunet-c192_1k_sirst3.py) for the compact network's training time on
# one thread per run: its step costs 0.23x the compact one's there (1000 compact iterations buy
# about 4400; docs/en/user_guides/speed.md), so 4000 iterations with the cosine decay ending
# there. The 1600-iteration form is the equal time on 2 cores. Restated over LiteUNet (inheriting
# the c192 config would make a fourth level).
_base_ = './full-sup_liteunet_1k_sirst3.py'
model = dict(backbone=dict(channels=(16, 32, 64, 192)))
train_cfg = dict(max_iters=4000, val_interval=4000)
