"""ONNX export: the exported network is the test path's, written only with its packages."""

import os.path as osp
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

import mmgsacp  # noqa: F401
from mmgsacp.apis.onnx_export import ProbabilityNet

from ..utils import config_path, run_tool

CONFIG = config_path('full_sup/full-sup_1k_sirst3.py')


def _model():
    init_default_scope('mmseg')
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(CONFIG).model).eval()
    return model


def _checkpoint(tmp_path, model):
    path = str(tmp_path / 'model.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict(iter=1)), path)
    return path


def test_probability_net_equals_the_test_path():
    """Raw frame in, the probabilities tools/test.py's inference gives out."""
    model = _model()
    net = ProbabilityNet(model).eval()
    x = torch.rand(1, 1, 64, 96, generator=torch.Generator().manual_seed(0)) * 255
    with torch.no_grad():
        inputs = model.data_preprocessor(
            dict(inputs=[x[0]], data_samples=[SegDataSample()]), False
        )['inputs']
        meta = dict(img_shape=(64, 96), ori_shape=(64, 96), pad_shape=(64, 96))
        ref = torch.sigmoid(model.inference(inputs, [meta]))
        got = net(x)
    assert got.shape == (1, 1, 64, 96)
    assert torch.allclose(got, ref, atol=1e-6)


def test_missing_onnx_names_the_package_and_requirements(tmp_path, capsys, monkeypatch):
    # A None entry in sys.modules makes `import onnx` fail as on a machine without it.
    monkeypatch.setitem(sys.modules, 'onnx', None)
    ckpt = _checkpoint(tmp_path, _model())
    out = tmp_path / 'model.onnx'
    assert run_tool('deployment/export_onnx.py', CONFIG, ckpt, out) == 2
    err = capsys.readouterr().err
    assert "'onnx'" in err and 'requirements/deploy.txt' in err
    assert not osp.exists(out)


def test_export_matches_pytorch_in_onnxruntime(tmp_path):
    pytest.importorskip('onnx')
    pytest.importorskip('onnxruntime')
    ckpt = _checkpoint(tmp_path, _model())
    out = tmp_path / 'model.onnx'
    assert (
        run_tool(
            'deployment/export_onnx.py',
            CONFIG,
            ckpt,
            out,
            '--shape',
            64,
            64,
            '--dynamic',
            '--verify',
        )
        == 0
    )
    import numpy as np
    import onnxruntime as ort

    net = ProbabilityNet(_model()).eval()
    x = torch.rand(1, 1, 96, 128, generator=torch.Generator().manual_seed(1)) * 255
    got = ort.InferenceSession(str(out), providers=['CPUExecutionProvider']).run(
        ['prob'], {'image': x.numpy()}
    )[0]
    with torch.no_grad():
        ref = net(x).numpy()
    assert got.shape == (1, 1, 96, 128)
    assert np.abs(got - ref).max() < 1e-4
    assert (
        run_tool(
            'deployment/export_onnx.py', CONFIG, ckpt, tmp_path / 'bad.onnx', '--shape', 60, 64
        )
        == 2
    )


def test_lite_unet_export_round_trip(tmp_path):
    """The deployment network through ONNX Runtime: within 1e-4 of PyTorch at the traced size
    and at another one (dynamic H, W), with trained-looking norm statistics, which the
    exporter folds into the convs."""
    pytest.importorskip('onnx')
    pytest.importorskip('onnxruntime')
    from mmgsacp.apis.onnx_export import export_onnx, ort_session

    init_default_scope('mmseg')
    torch.manual_seed(0)
    model = MODELS.build(
        Config.fromfile(config_path('full_sup/full-sup_liteunet_1k_sirst3.py')).model
    )
    g = torch.Generator().manual_seed(0)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.5)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.1)
    net = ProbabilityNet(model.eval()).eval()
    out = export_onnx(net, str(tmp_path / 'lite.onnx'), (64, 64), dynamic=True)
    session = ort_session(out, threads=1)
    for shape in ((64, 64), (96, 160)):
        x = torch.rand(1, 1, *shape, generator=g) * 255
        got = session.run(['prob'], {'image': x.numpy()})[0]
        with torch.no_grad():
            ref = net(x).numpy()
        assert got.shape == (1, 1, *shape)
        assert abs(got - ref).max() < 1e-4
