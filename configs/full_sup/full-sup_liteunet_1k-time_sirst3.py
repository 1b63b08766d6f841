# LiteUNet given the compact network's CPU budget in time rather than in iterations: its training
# step costs 0.62x the compact one's (16 crops of 128x128, docs/en/user_guides/speed.md), so
# 1000 / 0.62 = 1613, rounded to 1600 iterations, with the cosine decay ending there.
_base_ = './full-sup_liteunet_1k_sirst3.py'
train_cfg = dict(max_iters=1600, val_interval=1600)
