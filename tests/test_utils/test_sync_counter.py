"""Counting the calls that would make the host wait for a GPU, on CPU."""

import pytest
import torch

from mmgsacp.utils.sync_counter import SyncCounter


def test_counts_read_backs_and_data_dependent_shapes():
    x = torch.arange(12.0).reshape(3, 4) - 5
    mask = x > 0
    with SyncCounter(device='cpu', sites=True) as syncs:
        float(x.sum())
        x[mask]
        if (x > 100).any():
            pass
        torch.nonzero(mask)
        x.tolist()
        torch.equal(x, x)
    assert syncs.by_kind() == {
        'float': 1,
        'bool_index': 1,
        'bool': 1,
        'nonzero': 1,
        'tolist': 1,
        'equal': 1,
    }
    assert syncs.total == 6
    assert all(site.startswith(__file__) for site, _ in syncs.by_site())


def test_pure_tensor_ops_count_zero():
    x = torch.randn(2, 3, 8, 8, requires_grad=True)
    mask = x.detach() > 0
    with SyncCounter(device='cpu') as syncs:
        y = torch.where(mask, x.sigmoid(), torch.zeros_like(x)).sum((2, 3))
        y = y.masked_fill(y > 1, 0) + x[:, :, 1:3].mean()
        z = x.detach().clone()
        z[mask] = 0.0  # a masked fill with a scalar needs no count
        y.sum().backward()
        x.new_zeros(0).tolist()  # empty: nothing to read
    assert syncs.total == 0


def test_cuda_counting_needs_cuda():
    if torch.cuda.is_available():
        pytest.skip('CUDA present: the CPU-only error does not apply')
    with pytest.raises(RuntimeError, match="device='cpu'"):
        SyncCounter(device='cuda')
    with pytest.raises(ValueError, match='device'):
        SyncCounter(device='tpu')


def test_host_only_blocks_are_left_out_and_counting_resumes_after():
    from mmgsacp.utils.sync_counter import host_only

    x = torch.arange(4.0)
    with SyncCounter(device='cpu') as syncs:
        with host_only():
            float(x.sum())
            x.tolist()
        bool(x.any())
    assert syncs.by_kind() == {'bool': 1}
