"""NYU CSCI-GA 2572 Deep Learning, Homework 2, section 2 "Implementation" (seeds/003_7539ef53af22fa0d.txt):
the code the theory part derives, graded by running it.

A problem set of its own (`nyu-dl-hw2-code`, 50 marks), beside the theory set `nyu-dl-hw2`
(problems/nyu_dl_hw2.py, 50 marks, unchanged): students hand in a notebook or a .py file whose
cells are tagged with the part ids (`# grader: 2.1.forward`). Every reference is float64 torch;
every named mistake is written as code. The sizes are those of 1.1(c): x has 2 channels and 7
positions (a batch of one), one filter of kernel 5, stride 2, no padding, no bias; the RNN is
that of 1.2, c[t] = σ(W_c x[t] + W_h h[t−1]), h[t] = c[t] ⊙ h[t−1] + (1 − c[t]) ⊙ W_x x[t], h[0] = 0.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from grader.problemset import ProblemSet
from grader.sandbox import Limits

hw = ProblemSet(
    "nyu-dl-hw2-code",
    title="NYU Deep Learning (Spring 2022), Homework 2 implementation: convolution, RNN, training",
    total=50,
    source="seeds/003_7539ef53af22fa0d.txt",
)

STRIDE = 2
X_SHAPE, W_SHAPE = (1, 2, 7), (1, 2, 5)  # 1.1(c): (batch, channels, positions), (filters, channels, kernel)
N_IN, M_HIDDEN, STEPS = 3, 4, 5  # 1.2: x[t] in R^n, h[t] in R^m, a sequence of 5 steps


# =================================================================================================
# 2.1 The 1-D convolution of 1.1(c) (25 marks)
# =================================================================================================
@hw.code("2.1.forward", marks=10, entry="conv1d", inputs={"x": X_SHAPE, "W": W_SHAPE}, signature=("x", "W"), grad_inputs=("x", "W"))
def conv1d(x, W):
    """Write `conv1d(x, W)`: the layer f_W of 1.1(c) (cross-correlation, stride 2, no padding, no
    bias) for x of shape (batch, channels, positions) and W of shape (filters, channels, kernel),
    returning (batch, filters, output positions). Keep the input's dtype."""
    return F.conv1d(x, W, stride=STRIDE)


@conv1d.mistake("kernel flipped", note="That is a true convolution; the layer cross-correlates: W[1, c, k] meets x[c, 2(j−1) + k].")
def _(x, W):
    return F.conv1d(x, W.flip(-1), stride=STRIDE)


@conv1d.mistake("stride ignored", note="With stride 2 output j starts at position 2(j−1) + 1.")
def _(x, W):
    return F.conv1d(x, W)


@conv1d.mistake("channels summed before the kernel", note="Each channel has its own kernel row: sum over c of W[1, c, k] x[c, ·].")
def _(x, W):
    return F.conv1d(x.sum(1, keepdim=True), W.sum(1, keepdim=True), stride=STRIDE)


def _conv_grads(grad_y, x, W, stride):
    x, W = x.detach().requires_grad_(True), W.detach().requires_grad_(True)
    return torch.autograd.grad(F.conv1d(x, W, stride=stride), (x, W), grad_y)


@hw.code(
    "2.1.backward", marks=15, entry="conv1d", inputs={"x": X_SHAPE, "W": W_SHAPE}, signature=("x", "W"),
    grad_inputs=("x", "W"), backward="conv1d_backward", gradcheck=True, after=("2.1.forward",),
)
def conv1d_for_backward(x, W):
    """Write `conv1d_backward(grad_y, x, W)` returning (∂ℓ/∂x, ∂ℓ/∂W) given ∂ℓ/∂f = grad_y, by
    hand (no autograd): 1.1(c)(iii) and (iv). It is checked against autograd's gradients and,
    with torch.autograd.gradcheck, against your own `conv1d` (the cell of 2.1.forward runs first)."""
    return F.conv1d(x, W, stride=STRIDE)


@conv1d_for_backward.backward_mistake("backward of a stride-1 convolution", note="Output j reads x from position 2(j−1) + 1 on: spread grad_y with stride 2.")
def _(grad_y, x, W):
    full = torch.zeros(x.shape[0], W.shape[0], x.shape[-1] - W.shape[-1] + 1, dtype=x.dtype)
    full[..., : grad_y.shape[-1]] = grad_y
    return _conv_grads(full, x, W, 1)


@conv1d_for_backward.backward_mistake("gradients swapped", note="∂ℓ/∂x has the shape of x and ∂ℓ/∂W that of W: return them in that order.")
def _(grad_y, x, W):
    gx, gW = _conv_grads(grad_y, x, W, STRIDE)
    return gW, gx


# =================================================================================================
# 2.2 The recurrent network of 1.2 as an nn.Module (20 marks)
# =================================================================================================
def _rnn(p, x, recurrent=True, swapped=False):
    h = torch.zeros(p["W_h"].shape[0], dtype=x.dtype)
    hs = []
    for t in range(x.shape[0]):
        c = torch.sigmoid(p["W_c"] @ x[t] + (p["W_h"] @ h if recurrent else 0))
        keep = 1 - c if swapped else c
        h = keep * h + (1 - keep) * (p["W_x"] @ x[t])
        hs.append(h)
    return torch.stack(hs)


@hw.code(
    "2.2", marks=20, entry="RNN", module=True, init=(N_IN, M_HIDDEN), inputs={"x": (STEPS, N_IN)}, signature=("x",),
    params={"W_c": (M_HIDDEN, N_IN), "W_h": (M_HIDDEN, M_HIDDEN), "W_x": (M_HIDDEN, N_IN)},
)
def rnn(p, x):
    """Write `class RNN(nn.Module)` with `__init__(self, n, m)` and parameters named W_c (m×n),
    W_h (m×m) and W_x (m×n) (a bias-free nn.Linear named so also works), whose `forward(x)`
    takes x of shape (steps, n) and returns every h[t], shape (steps, m), by equations (1)-(2) of
    1.2 with h[0] = 0. Its backward is autograd's: keep every step in the graph."""
    return _rnn(p, x)


@rnn.mistake("gates swapped", note="h[t] keeps c[t] ⊙ h[t−1] and takes (1 − c[t]) ⊙ W_x x[t], not the other way round.")
def _(p, x):
    return _rnn(p, x, swapped=True)


@rnn.mistake("recurrent term missing", note="The gate reads the previous state too: c[t] = σ(W_c x[t] + W_h h[t−1]).")
def _(p, x):
    return _rnn(p, x, recurrent=False)


# =================================================================================================
# 2.3 Training curves without spikes (1.3; 5 marks)
# =================================================================================================
# The instructor's fixture: a seeded sequence task (4 classes from the signs of the first and
# last inputs, as in 08-seq_classification), a fixed model, optimizer and seed. Only the
# student's training step changes. Plain SGD at this learning rate spikes (exploding
# gradients); a fix (gradient clipping, a smaller step) gives a smooth curve.
FIXTURE = '''
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.RNN(1, 16, batch_first=True)
        self.out = nn.Linear(16, 4)

    def forward(self, x):
        return self.out(self.rnn(x)[0][:, -1])


def run(step, arrays, seed):
    torch.manual_seed(seed)
    x = torch.randn(64, 12, 1)
    y = (x[:, 0, 0] > 0).long() * 2 + (x[:, -1, 0] > 0).long()
    model = Net()
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    losses = []
    for _ in range(80):
        step(model, optimizer, x, y)
        with torch.no_grad():
            losses.append(float(nn.functional.cross_entropy(model(x), y)))
    return {"losses": torch.tensor(losses)}
'''


@hw.training("2.3", marks=5, entry="train_step", fixture=FIXTURE, final_below=0.3, spike_ratio=1.5, signature=("model", "optimizer", "x", "y"),
             limits=Limits(seconds=30))
def train_step(model, optimizer, x, y):
    """Write `train_step(model, optimizer, x, y)`: one step of training the 08-seq_classification
    model (cross-entropy on the class logits) such that the loss curve has no spikes: no loss
    above 1.5 times the lowest before it, no NaN, and a mean of the last 5 losses below 0.3 after
    80 steps. Change only the training step, not the model, the optimizer's creation or the seed."""
    optimizer.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    nn.utils.clip_grad_norm_(model.parameters(), 0.25)
    optimizer.step()


@train_step.mistake("no fix: plain SGD", note="The large steps after a gradient explodes cause the spikes: clip the gradient norm (or take smaller steps).")
def _(model, optimizer, x, y):
    optimizer.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    optimizer.step()


@train_step.mistake("zero_grad forgotten", note="Gradients accumulate unless optimizer.zero_grad() runs each step.")
def _(model, optimizer, x, y):
    nn.functional.cross_entropy(model(x), y).backward()
    nn.utils.clip_grad_norm_(model.parameters(), 0.25)
    optimizer.step()
