# DNANet given the compact network's CPU budget in time rather than in iterations: one DNANet
# training step costs about 4-6 compact ones on 2 cores
# (`python tools/benchmarks/bench_train_step.py --ratios --dnanet`: 171 iterations; whole runs:
# 244), so
# 250 iterations, rounded up in DNANet's favour, with the cosine decay ending there.
_base_ = './full-sup_dnanet_1k_sirst3.py'
train_cfg = dict(max_iters=250, val_interval=250)
