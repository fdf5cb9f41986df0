"""Code parts of nyu-dl-hw2 section 2 for the tests: references, named mistakes, student code.

The 1-D convolution of 1.1(c) (input 2 x 7, one filter of kernel 5, stride 2, no bias) and the
RNN of 1.2. Each named mistake is defined here as trusted code and again as student code.
"""

from __future__ import annotations

import ctypes
import os
import struct
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from grader.code.spec import CodeSpec, Variant
from grader.sandbox import Sandbox
from grader.sandbox.preload import PRELOAD_GRADCHECK, PRELOAD_TRAINING


class OpenWatch:
    """inotify on one file: did anyone open or read it?"""

    IN_ACCESS, IN_OPEN, IN_NONBLOCK = 0x1, 0x20, 0o4000

    def __init__(self, path: Path) -> None:
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self.libc.inotify_init1(self.IN_NONBLOCK)
        assert self.fd >= 0
        assert self.libc.inotify_add_watch(self.fd, str(path).encode(), self.IN_ACCESS | self.IN_OPEN) >= 0

    def events(self) -> list[int]:
        try:
            data = os.read(self.fd, 65536)
        except BlockingIOError:
            return []
        masks, offset = [], 0
        while offset < len(data):
            _, mask, _, length = struct.unpack_from("iIII", data, offset)
            masks.append(mask)
            offset += 16 + length
        return masks

    def close(self) -> None:
        os.close(self.fd)


@pytest.fixture(scope="session")
def code_sandbox():
    """One sandbox (with namespaces where the machine allows) for the code-part tests."""
    with Sandbox(preload=PRELOAD_GRADCHECK + PRELOAD_TRAINING) as box:
        yield box


# -- the references and mistakes (trusted side) ------------------------------------------------
def conv_ref(x, W):
    return F.conv1d(x, W, stride=2)


def conv_backward_ref(grad_y, x, W):
    x = x.detach().requires_grad_(True)
    W = W.detach().requires_grad_(True)
    return torch.autograd.grad(F.conv1d(x, W, stride=2), (x, W), grad_y)


def _rnn(p, x, recurrent=True, swapped=False):
    h = torch.zeros(p["W_h"].shape[0], dtype=x.dtype)
    hs = []
    for t in range(x.shape[0]):
        c = torch.sigmoid(p["W_c"] @ x[t] + (p["W_h"] @ h if recurrent else 0))
        keep = 1 - c if swapped else c
        h = keep * h + (1 - keep) * (p["W_x"] @ x[t])
        hs.append(h)
    return torch.stack(hs)


def rnn_ref(p, x):
    """1.2: c[t] = sigmoid(W_c x[t] + W_h h[t-1]), h[t] = c[t] * h[t-1] + (1 - c[t]) * W_x x[t]."""
    return _rnn(p, x)


def rnn_gates_swapped(p, x):
    return _rnn(p, x, swapped=True)


def rnn_no_recurrent_term(p, x):
    return _rnn(p, x, recurrent=False)


def conv_backward_no_stride(grad_y, x, W):
    # the gradients of a stride-1 convolution, with grad_y spread over every position
    full = torch.zeros(x.shape[0], W.shape[0], x.shape[-1] - W.shape[-1] + 1, dtype=x.dtype)
    full[..., : grad_y.shape[-1]] = grad_y
    return conv_backward_ref_stride1(full, x, W)


def conv_backward_ref_stride1(grad_y, x, W):
    x = x.detach().requires_grad_(True)
    W = W.detach().requires_grad_(True)
    return torch.autograd.grad(F.conv1d(x, W), (x, W), grad_y)


CONV = CodeSpec(
    entry="conv1d",
    reference=conv_ref,
    inputs={"x": (1, 2, 7), "W": (1, 2, 5)},
    signature=("x", "W"),
    grad_inputs=("x", "W"),
    variants=(
        Variant("kernel flipped", forward=lambda x, W: F.conv1d(x, W.flip(-1), stride=2), feedback="Cross-correlation does not flip the kernel."),
        Variant("stride ignored", forward=lambda x, W: F.conv1d(x, W)),
        Variant("channels summed before the kernel", forward=lambda x, W: F.conv1d(x.sum(1, keepdim=True), W.sum(1, keepdim=True), stride=2)),
    ),
)
CONV_BACKWARD = CodeSpec(
    entry="conv1d",
    reference=conv_ref,
    inputs={"x": (1, 2, 7), "W": (1, 2, 5)},
    grad_inputs=("x", "W"),
    backward="conv1d_backward",
    gradcheck=True,
    variants=(Variant("backward of a stride-1 convolution", backward=conv_backward_no_stride),),
)
RNN = CodeSpec(
    entry="RNN",
    kind="module",
    reference=rnn_ref,
    init=(3, 4),
    inputs={"x": (5, 3)},
    params={"W_c": (4, 3), "W_h": (4, 4), "W_x": (4, 3)},
    variants=(Variant("gates swapped", forward=rnn_gates_swapped), Variant("recurrent term missing", forward=rnn_no_recurrent_term)),
)

# -- student code --------------------------------------------------------------------------------
CONV_RIGHT = """
import torch
def conv1d(x, W):
    # cross-correlation written out, as a student would
    k = W.shape[-1]
    n = (x.shape[-1] - k) // 2 + 1
    out = torch.stack([(x[..., 2 * i : 2 * i + k].unsqueeze(1) * W).sum((-1, -2)) for i in range(n)], -1)
    return out
"""
CONV_FLIPPED = CONV_RIGHT.replace("* W)", "* W.flip(-1))")
CONV_NO_STRIDE = CONV_RIGHT.replace("(x.shape[-1] - k) // 2 + 1", "x.shape[-1] - k + 1").replace("2 * i : 2 * i + k", "i : i + k")
CONV_BACKWARD_RIGHT = CONV_RIGHT + """
def conv1d_backward(grad_y, x, W):
    k = W.shape[-1]
    grad_x = torch.zeros_like(x)
    grad_W = torch.zeros_like(W)
    for i in range(grad_y.shape[-1]):
        g = grad_y[..., i]                                  # (batch, filters)
        grad_W += (g[:, :, None, None] * x[:, None, :, 2 * i : 2 * i + k]).sum(0)
        grad_x[..., 2 * i : 2 * i + k] += (g[:, :, None, None] * W[None]).sum(1)
    return grad_x, grad_W
"""
CONV_BACKWARD_NO_STRIDE = CONV_BACKWARD_RIGHT.replace("def conv1d_backward(grad_y, x, W):\n    k", "def conv1d_backward(grad_y, x, W):\n    grad_y = torch.cat([grad_y, torch.zeros(*grad_y.shape[:-1], x.shape[-1] - W.shape[-1] + 1 - grad_y.shape[-1], dtype=x.dtype)], -1)\n    k").replace("2 * i : 2 * i + k]).sum(0)", "i : i + k]).sum(0)").replace("grad_x[..., 2 * i : 2 * i + k]", "grad_x[..., i : i + k]")
# a backward consistent with a forward it does not match: the forward is flipped, so is the backward
CONV_BACKWARD_WRONG_SIGN = CONV_BACKWARD_RIGHT.replace("return grad_x, grad_W", "return -grad_x, grad_W")

RNN_RIGHT = """
import torch
from torch import nn

class RNN(nn.Module):
    def __init__(self, n, m):
        super().__init__()
        self.W_c = nn.Linear(n, m, bias=False)
        self.W_h = nn.Parameter(torch.randn(m, m))
        self.W_x = nn.Parameter(torch.randn(m, n))

    def forward(self, x):
        h = x.new_zeros(self.W_h.shape[0])
        out = []
        for t in range(x.shape[0]):
            c = torch.sigmoid(self.W_c(x[t]) + self.W_h @ h)
            h = c * h + (1 - c) * (self.W_x @ x[t])
            out.append(h)
        return torch.stack(out)
"""
RNN_SWAPPED = RNN_RIGHT.replace("h = c * h + (1 - c) * (self.W_x @ x[t])", "h = (1 - c) * h + c * (self.W_x @ x[t])")
RNN_NO_TERM = RNN_RIGHT.replace("self.W_c(x[t]) + self.W_h @ h", "self.W_c(x[t])")
RNN_DETACHED = RNN_RIGHT.replace("out.append(h)", "out.append(h.detach())")
