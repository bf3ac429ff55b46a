"""Device and mixed-precision choices, with the GPU's capability mocked."""

import pytest
import torch

from pssr_nb import devices


@pytest.mark.parametrize(
    "capability,dtype,scaler",
    [
        ((7, 5), torch.float16, True),
        ((8, 0), torch.bfloat16, False),
        ((9, 0), torch.bfloat16, False),
    ],
    ids=["T4", "A100", "H100"],
)
def test_bf16_only_where_the_gpu_computes_it(monkeypatch, capability, dtype, scaler):
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)  # as on a T4
    cuda = torch.device("cuda")
    assert devices.mixed_precision_dtype(cuda) == dtype
    context, needs_scaler = devices.autocast_for(cuda)
    assert needs_scaler is scaler and context.fast_dtype == dtype


def test_no_mixed_precision_on_the_cpu_or_when_off():
    assert devices.autocast_for(torch.device("cpu"))[1] is False
    context, _ = devices.autocast_for(torch.device("cuda"), enabled=False)
    assert not isinstance(context, torch.autocast)
