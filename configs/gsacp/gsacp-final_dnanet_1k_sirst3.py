# GSACP-Final with DNANet, the network of every published row, on the CPU budget:
# gsacp-final_1k_sirst3.py with the backbone of _base_/models/dnanet.py (its last nested node has
# 16 channels, like the compact U-Net's output, so the head and the affinity are unchanged).
_base_ = './gsacp-final_1k_sirst3.py'
model = dict(backbone=dict(type='DNANet'))
