# GPU speed switches, to merge into any method config (not a `_base_` next to a schedule: the
# two would both define optim_wrapper). From the command line:
#   --cfg-options optim_wrapper.type=BF16AutocastOptimWrapper \
#       optim_wrapper.optimizer.fused=True env_cfg.cudnn_benchmark=True
# or in Python: mmgsacp.utils.config.use_gpu_fast(cfg). In a config of your own, inherit the
# method config and restate these two lines.
# - bf16 autocast without loss scaling (BF16AutocastOptimWrapper; MMEngine's AmpOptimWrapper
#   always runs a GradScaler, which reads a flag back from the GPU every step);
# - fused AdamW (one kernel for all parameters; CUDA only: use fused=False on CPU);
# - cuDNN autotuning (fixed crop size, so the chosen kernels are reused every step).
# Three more switches, off by default: each training step replayed from a CUDA graph, the
# network stored channels-last, the backbone compiled in training:
#   --cfg-options model.cuda_graph=True model.channels_last=True model.compile=True
# (docs/en/user_guides/speed.md)
optim_wrapper = dict(type='BF16AutocastOptimWrapper', optimizer=dict(fused=True))
env_cfg = dict(cudnn_benchmark=True)
