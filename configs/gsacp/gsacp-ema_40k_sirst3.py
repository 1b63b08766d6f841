# + Local EMA teacher decoupling: targets come from a slow copy of the network.
_base_ = './gsacp-base_40k_sirst3.py'
model = dict(teacher=dict(scope='full', momentum=0.01))
