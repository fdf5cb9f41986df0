"""Assignment 4 (seeds/004_6fff1c16197bae69.txt): backpropagation through a small 1D conv net,
the size of an MNIST conv layer, and two true/false claims about an LSTM cell.

Every reference is computed: the parameter counts from real `torch.nn` modules, the gradients by
autograd on the real network at random inputs (several draws), the feature-map size from a
forward pass, and the LSTM verdicts by running a real `nn.LSTMCell` (whose equations, without
biases, are exactly the sheet's) — the seed's printed justification of 3(a) is wrong (with
x_t = 0 the gates are σ(U h_{t−1}), not 0), so the verdict is derived, not copied.
"""

from __future__ import annotations

import torch
from torch import nn

from grader.kinds import Choice, Expr, Int, Shape
from grader.kinds.index_expr import IndexExpr
from grader.problemset import ProblemSet
from grader.sampling import Points

hw = ProblemSet(
    "assignment4",
    title="Assignment 4: backpropagation in a 1D conv net, CNN sizes, LSTM true or false",
    total=12,
    source="seeds/004_6fff1c16197bae69.txt",
)

f64 = torch.float64

# -- the network of question 1 --------------------------------------------------------------------
#   h_i = s(Σ_{j=1..3} v_j x_{i+j−1}) for i = 1..4,   z = Σ_{i=1..4} w_i h_i,   R = (y − z)²
X_LEN, V_LEN, H_LEN = 6, 3, 4
N_POINTS = 24  # sampled networks for the formula of (b)
DRAWS = 6  # random draws for the index formula of (c)


class SmallConvNet(nn.Module):
    """One 1D conv filter of size 3 (weights v) with sigmoid units, then a linear output (weights w)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(1, 1, V_LEN, bias=False, dtype=f64)
        self.fc = nn.Linear(H_LEN, 1, bias=False, dtype=f64)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = torch.sigmoid(self.conv(x[None, None]))[0, 0]
        return h, self.fc(h)[0]


def random_network(gen: torch.Generator) -> tuple[SmallConvNet, torch.Tensor, torch.Tensor]:
    """A network with random v, w, and a random input x and label y."""
    net = SmallConvNet()
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=f64))
    return net, torch.randn(X_LEN, generator=gen, dtype=f64), torch.randn((), generator=gen, dtype=f64)


def backprop(net: SmallConvNet, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    """Forward pass and autograd of R = (y − z)²: h, z, ∂R/∂w (length 4) and ∂R/∂v (length 3)."""
    net.zero_grad()
    h, z = net(x)
    ((y - z) ** 2).backward()
    return {"h": h.detach(), "z": z.detach(), "dR_dw": net.fc.weight.grad[0].clone(),
            "dR_dv": net.conv.weight.grad[0, 0].clone(), "w": net.fc.weight.detach()[0].clone()}


def network_draw(gen: torch.Generator) -> dict[str, torch.Tensor]:
    """A random network, input x and label y, with its forward and backward pass."""
    net, x, y = random_network(gen)
    return {"x": x, "y": y, **backprop(net, x, y)}


def network_point(gen: torch.Generator) -> dict[str, torch.Tensor]:
    """One sampled point of (b): y and z (as 1-vectors, beside the 4 values h_i) and ∂R/∂w."""
    draw = network_draw(gen)
    return {"y": draw["y"].reshape(1), "z": draw["z"].reshape(1), "h_i": draw["h"], "dR_dw": draw["dR_dw"]}


# =================================================================================================
# Question 1 — simple backward propagation (6 marks)
# =================================================================================================
@hw.part("q1a", marks=1, kind=Int(), solutions=("7",))
def q1a():
    """(a) The total number of parameters of the network (the conv layer shares its weights; no biases)."""
    return sum(p.numel() for p in SmallConvNet().parameters())


@q1a.mistake("weights not shared", note="A conv layer uses the same weights at every position: count each weight once.")
def _():
    net = SmallConvNet()
    return net.conv.weight.numel() * H_LEN + net.fc.weight.numel()


@hw.part("q1b", marks=2, kind=Expr(["y", "z", "h_i"], n_points=N_POINTS), solutions=("-2(y-z)h_i",),
         points=Points(setup=network_point, method="autograd on the network", meta={"index": {"i": [1, H_LEN]}}))
def q1b(dR_dw):
    """(b) Compute ∂R/∂w_i in terms of y, z and h_i."""
    return dR_dw


@q1b.mistake("factor 2 missing", note="The derivative of a square brings down a factor of 2.")
def _(y, z, h_i):
    return -(y - z) * h_i


@q1b.mistake("sign flipped", note="Mind the inner derivative: (y − z) decreases as z grows.")
def _(y, z, h_i):
    return 2 * (y - z) * h_i


@hw.part("q1c", marks=3,
         kind=IndexExpr({"w": 1, "h": 1, "x": 1}, free=("j",), scalars=("y", "z"), indices=("i",), base=1),
         points=Points(DRAWS, setup=network_draw, method="autograd on the network"),
         solutions=("-2(y-z) sum_{i=1}^{4} w_i h_i (1-h_i) x_{i+j-1}",))
def q1c(dR_dv):
    """(c) Compute ∂R/∂v_j in terms of w_i, h_i and x_{i+j−1} (and y, z)."""
    return dR_dv


def chain_rule(w, h, x, y, z, factor: float = -2.0, sigmoid_derivative: bool = True) -> torch.Tensor:
    """factor·(y − z) Σ_i w_i s'_i x_{i+j−1}, with s'_i = h_i(1 − h_i) or 1: a variant of the chain rule."""
    slope = h * (1 - h) if sigmoid_derivative else torch.ones_like(h)
    windows = x.unfold(-1, V_LEN, 1)  # windows[i, j] = x_{i+j−1} (from 1)
    return factor * (y - z) * torch.einsum("i,ij->j", w * slope, windows)


@q1c.mistake("factor 2 missing", note="The derivative of a square brings down a factor of 2.")
def _(w, h, x, y, z):
    return chain_rule(w, h, x, y, z, factor=-1.0)


@q1c.mistake("sign flipped", note="Mind the inner derivative: (y − z) decreases as z grows.")
def _(w, h, x, y, z):
    return chain_rule(w, h, x, y, z, factor=2.0)


@q1c.mistake("sigmoid derivative missing", note="h_i = s(·), so the chain rule also needs the derivative of s, written with h_i.")
def _(w, h, x, y, z):
    return chain_rule(w, h, x, y, z, sigmoid_derivative=False)


# =================================================================================================
# Question 2 — a conv layer on MNIST (2 marks)
# =================================================================================================
MNIST = (1, 28, 28)
with torch.device("meta"):
    LAYER2 = nn.Conv2d(1, 20, 5, stride=1)  # 20 filters of size 5×5, each with a bias, no padding
FEATURE_MAPS = tuple(LAYER2(torch.empty(1, *MNIST, device="meta")).shape[1:])  # (20, 24, 24)


@hw.part("q2a", marks=1, kind=Int(), solutions=("20*(5*5+1)", "520"))
def q2a():
    """(a) How many weights (parameters) does this conv layer use?"""
    return sum(p.numel() for p in LAYER2.parameters())


@q2a.mistake("bias forgotten", note="Each filter also has a bias weight.")
def _():
    return LAYER2.weight.numel()


@hw.part("q2b", marks=1, kind=Shape(), solutions=("24x24",))
def q2b():
    """(b) The output dimension of the feature map after this layer."""
    return FEATURE_MAPS[1:]


@q2b.alternative("side length only", note="Each feature map is 24×24.")
def _():
    return FEATURE_MAPS[1:2]


@q2b.alternative("with the 20 maps, channels first", note="The layer produces 20 feature maps of 24×24.")
def _():
    return FEATURE_MAPS


@q2b.alternative("with the 20 maps, channels last", note="The layer produces 20 feature maps of 24×24.")
def _():
    return (*FEATURE_MAPS[1:], FEATURE_MAPS[0])


# =================================================================================================
# Question 3 — LSTM true or false (4 marks)
# =================================================================================================
#   i_t = σ(W⁽ⁱ⁾x_t + U⁽ⁱ⁾h_{t−1}), f_t, o_t likewise, c̃_t = tanh(W⁽ᶜ⁾x_t + U⁽ᶜ⁾h_{t−1}),
#   c_t = f_t ∘ c_{t−1} + i_t ∘ c̃_t,  h_t = o_t ∘ tanh(c_t)  — torch's LSTMCell without biases.
LSTM_INPUT, LSTM_HIDDEN, TRIALS = 3, 5, 20


def lstm_cell(gen: torch.Generator) -> nn.LSTMCell:
    cell = nn.LSTMCell(LSTM_INPUT, LSTM_HIDDEN, bias=False, dtype=f64)
    with torch.no_grad():
        for p in cell.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=f64))
    return cell


def gates(cell: nn.LSTMCell, x: torch.Tensor, h: torch.Tensor) -> dict[str, torch.Tensor]:
    """i_t, f_t, o_t of the cell (torch orders the stacked weights i, f, c̃, o)."""
    i, f, _, o = (cell.weight_ih @ x + cell.weight_hh @ h).chunk(4)
    return {"i": torch.sigmoid(i), "f": torch.sigmoid(f), "o": torch.sigmoid(o)}


def verdict(claim_holds: bool) -> str:
    return "true" if claim_holds else "false"


@hw.part("q3a.answer", marks=1, kind=Choice(["true", "false"]), solutions=("false",))
def q3a_answer():
    """(a) True or false: if x_t is the 0 vector, then h_t = h_{t−1}."""
    gen = torch.Generator().manual_seed(4)
    holds = True
    for _ in range(TRIALS):
        cell = lstm_cell(gen)
        h_prev = torch.randn(1, LSTM_HIDDEN, generator=gen, dtype=f64)
        c_prev = torch.randn(1, LSTM_HIDDEN, generator=gen, dtype=f64)
        h_t, _ = cell(torch.zeros(1, LSTM_INPUT, dtype=f64), (h_prev, c_prev))
        holds &= torch.allclose(h_t, h_prev)
    return verdict(holds)


hw.manual("q3a.why", 1, "(a) Briefly justify your answer.")


@hw.part("q3b.answer", marks=1, kind=Choice(["true", "false"]), solutions=("true",))
def q3b_answer():
    """(b) True or false: the entries of f_t, i_t, o_t are non-negative."""
    gen = torch.Generator().manual_seed(4)
    holds = True
    for scale in (1.0, 10.0, 100.0):  # large inputs drive the gates towards the ends of their range
        cell = lstm_cell(gen)
        x = scale * torch.randn(LSTM_INPUT, generator=gen, dtype=f64)
        h = torch.randn(LSTM_HIDDEN, generator=gen, dtype=f64)
        holds &= all(bool((g >= 0).all()) for g in gates(cell, x, h).values())
    return verdict(holds)


hw.manual("q3b.why", 1, "(b) Briefly justify your answer.")
