# LESPS with its labels updated as its authors' code updates them: after each update epoch the
# network, in eval mode, predicts the training images and every point's label evolves from that
# prediction at once (lesps-heatmap_1k_sirst3.py updates online, from each training step's own
# prediction on its crops). Predictions on 64 px squares around the points, as PAL's config:
# whole images would cost minutes per update on CPU. Otherwise lesps-heatmap_1k_sirst3.py
# (its loss restated: the config tree stays three levels deep).
_base_ = './lesps_1k_sirst3.py'
model = dict(decode_head=dict(loss_decode=[dict(type='GaussianFocalLoss', sigma=2.0)]))
default_hooks = dict(label_evolution=dict(update='pass', infer_window=64))
