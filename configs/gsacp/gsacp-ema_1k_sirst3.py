# + Local EMA teacher decoupling: targets come from a slow copy of the decoder/embedding.
_base_ = './gsacp-base_1k_sirst3.py'
default_hooks = dict(ema_teacher=dict(type='EMATeacherHook', momentum=0.99, scope='head'))
