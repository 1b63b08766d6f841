# DNANet given the compact network's CPU budget in time rather than in iterations: one DNANet
# training step costs about 4-6 compact ones on 2 cores
# (`python tools/benchmarks/bench_train_step.py --dnanet`: 171 iterations; whole runs: 244), so
# 250 iterations, rounded up in DNANet's favour, with the cosine decay ending there. Otherwise
# full_sup_dnanet_sirst3_cpu.py (which it does not inherit, to stay within three levels).
_base_ = './full_sup_sirst3_cpu.py'
model = dict(backbone=dict(_delete_=True, type='DNANet', in_channels=1))
train_cfg = dict(max_iters=250, val_interval=250)
