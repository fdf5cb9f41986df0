"""NYU Introduction to Machine Learning, Homework 8 (seeds/001_67878f0cb13f538f.txt): a 2D
cross-correlation by hand, the sizes of a conv layer, and backpropagation through a sigmoid
conv layer.

Every reference is computed: Z with `F.conv2d`, the layer of question 2 as a real
`torch.nn.Conv2d` on the meta device (shapes by a forward pass, parameters by `numel`), and the
gradients of question 3 by autograd on random small tensors (several draws), in the sheet's
index order X[i, j, n], W[k1, k2, n, m], Z[i, j, m].
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from grader.kinds import Int, Location, Shape
from grader.kinds.index_expr import IndexExpr
from grader.kinds.location import LocationTarget
from grader.problemset import ProblemSet
from grader.sampling import Sample

hw = ProblemSet(
    "nyu-intro-ml-hw8",
    title="NYU Introduction to Machine Learning, Homework 8: Convolutional Neural Networks",
    total=15,
    source="seeds/001_67878f0cb13f538f.txt",
)

f64 = torch.float64

# -- the inputs, as printed on the sheet ----------------------------------------------------------
# Question 1: Z[i, j] = Σ_{k1,k2} W[k1, k2] X[i+k1, j+k2] on the valid pixels, indexed from (0, 0).
X = torch.tensor(
    [[0, 0, 0, 0, 0],
     [0, 3, 3, 3, 0],
     [0, 3, 3, 3, 0],
     [0, 3, 2, 3, 0],
     [0, 3, 2, 3, 0],
     [0, 0, 0, 0, 0]],
    dtype=f64,
)
W = torch.tensor([[1, -1], [1, -1]], dtype=f64)

# Question 2: X[i, j, n] of shape (48, 64, 10), W[k1, k2, n, m] of shape (3, 3, 10, 20), valid pixels.
X2_SHAPE = (48, 64, 10)
W2_SHAPE = (3, 3, 10, 20)

# Question 3: sizes of the random tensors the gradient formulas are checked on (all different, so
# a formula that mixes up two indices reads the wrong entries).
H3, W3, N3 = 6, 5, 2  # X[i, j, n]
K1, K2, M3 = 2, 3, 3  # W[k1, k2, n, m]
DRAWS = 4


# =================================================================================================
# Question 1 — a 2D cross-correlation by hand (5 marks)
# =================================================================================================
def correlate(image: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Equation (1): the valid 2D convolution without reversal (what `F.conv2d` computes)."""
    return F.conv2d(image[None, None], kernel[None, None])[0, 0]


Z = correlate(X, W)
Z_FLIPPED = correlate(X, W.flip(0, 1))  # the true convolution: what a student who flips W gets

K_RANGE = range(W.shape[0])  # k1 (and k2: W is square) runs over the kernel's rows, from 0
assert W.shape[0] == W.shape[1]


def location(values: torch.Tensor, mask: torch.Tensor) -> LocationTarget:
    return LocationTarget(values=values.numpy(), mask=mask.numpy())


@hw.part("q1a.kmin", marks=0.5, kind=Int(), solutions=("0",))
def q1a_kmin():
    """(a) The lower limit of the summations over k1 and k2 in (1)."""
    return K_RANGE[0]


@hw.part("q1a.kmax", marks=0.5, kind=Int(), solutions=("1",))
def q1a_kmax():
    """(a) The upper limit of the summations over k1 and k2 in (1)."""
    return K_RANGE[-1]


@q1a_kmax.mistake("kernel size instead of the last index",
                  note="The arrays are indexed from 0, so a 2×2 kernel's indices end at 1.")
def _():
    return len(K_RANGE)


@hw.part("q1b", marks=1, kind=Shape(), solutions=("5x4",))
def q1b():
    """(b) The size of Z computed on the valid pixels only."""
    return tuple(Z.shape)


@q1b.mistake("size of X", note="Only the pixels where the 2×2 kernel fits inside X are valid: one fewer in each direction.")
def _():
    return tuple(X.shape)


@hw.part("q1c.value", marks=0.5, kind=Int(), solutions=("6",))
def q1c_value():
    """(c) The largest positive value of Z[i, j]."""
    return int(Z.max())


@hw.part("q1c.where", marks=0.5, kind=Location(base=0, name="Z"), solutions=("(1, 3)",))
def q1c_where():
    """(c) One pixel location (i, j) where the largest value occurs."""
    return location(Z, Z == Z.max())


@q1c_where.mistake("kernel flipped", note="Equation (1) is a convolution without reversal: W is not flipped.")
def _():
    return location(Z, Z_FLIPPED == Z_FLIPPED.max())


@hw.part("q1d.value", marks=0.5, kind=Int(), solutions=("-6",))
def q1d_value():
    """(d) The largest negative (most negative) value of Z[i, j]."""
    return int(Z.min())


@hw.part("q1d.where", marks=0.5, kind=Location(base=0, name="Z"), solutions=("(1, 0)",))
def q1d_where():
    """(d) One pixel location (i, j) where the most negative value occurs."""
    return location(Z, Z == Z.min())


@q1d_where.mistake("kernel flipped", note="Equation (1) is a convolution without reversal: W is not flipped.")
def _():
    return location(Z, Z_FLIPPED == Z_FLIPPED.min())


@hw.part("q1e", marks=1, kind=Location(base=0, name="Z"), solutions=("(0, 1)",))
def q1e():
    """(e) One pixel location (i, j) where Z[i, j] = 0."""
    return location(Z, Z == 0)


# =================================================================================================
# Question 2 — the sizes of a conv layer (4 marks)
# =================================================================================================
def layer2(padding: int = 0) -> nn.Conv2d:
    """The layer of question 2 as a torch module (weights on the meta device: shapes only)."""
    k1, k2, n_in, n_out = W2_SHAPE
    layer = nn.Conv2d(n_in, n_out, (k1, k2), padding=padding, device="meta")
    # torch stores the kernel as (m, n, k1, k2); the sheet's W[k1, k2, n, m] is the same tensor.
    assert tuple(layer.weight.permute(2, 3, 1, 0).shape) == W2_SHAPE
    return layer


def z2_shape(padding: int = 0) -> tuple[int, int, int]:
    """Shape of Z in the sheet's (i, j, m) order, from a forward pass of a meta tensor."""
    height, width, channels = X2_SHAPE
    z = layer2(padding)(torch.empty(1, channels, height, width, device="meta"))  # torch: (batch, C, H, W)
    _, m, i, j = z.shape
    return (i, j, m)


@hw.part("q2a", marks=1, kind=Shape(), solutions=("46x62x20",))
def q2a():
    """(a) X has shape (48, 64, 10) and W shape (3, 3, 10, 20), valid pixels: the shapes of Z and U."""
    return z2_shape()


@q2a.mistake("padded to keep the size", note="On the valid pixels only, a 3×3 kernel loses one pixel at each border.")
def _():
    return z2_shape(padding=1)


@hw.part("q2b.in", marks=0.5, kind=Int(), solutions=("10",))
def q2b_in():
    """(b) The number of input channels."""
    return layer2().in_channels


@hw.part("q2b.out", marks=0.5, kind=Int(), solutions=("20",))
def q2b_out():
    """(b) The number of output channels."""
    return layer2().out_channels


def multiplications() -> int:
    """One multiplication per kernel weight (k1·k2·n of them) for every output unit Z[i, j, m]."""
    output_units = int(np.prod(z2_shape()))
    per_unit = layer2().weight[0].numel()
    return output_units * per_unit


@hw.part("q2c", marks=1, kind=Int(), solutions=("46*62*20*3*3*10", "5133600"))
def q2c():
    """(c) How many multiplications must be performed to compute the convolution in that layer?"""
    return multiplications()


@hw.part("q2d", marks=1, kind=Int(), solutions=("(3*3*10+1)*20", "1820"))
def q2d():
    """(d) The total number of trainable parameters (W and b) in the layer."""
    return sum(p.numel() for p in layer2().parameters())


@q2d.mistake("bias forgotten", note="b[m] is learned too: one bias per output channel.")
def _():
    return layer2().weight.numel()


# =================================================================================================
# Question 3 — backpropagation through a sigmoid conv layer (6 marks)
# =================================================================================================
def conv_layer(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None = None) -> torch.Tensor:
    """Z[i, j, m] = Σ_{k1,k2,n} W[k1, k2, n, m] X[i+k1, j+k2, n] + b[m], in the sheet's layout."""
    return F.conv2d(x.permute(2, 0, 1)[None], w.permute(3, 2, 0, 1), b)[0].permute(1, 2, 0)


TENSORS = {"X": 3, "W": 4, "b": 1, "Z": 3, "U": 3, "dU": 3, "dZ": 3}
INDICES = ("i", "j", "k1", "k2", "n", "m")


def index_expr(*free: str, tensors: dict[str, int] = TENSORS) -> IndexExpr:
    return IndexExpr(tensors, free=free, indices=tuple(i for i in INDICES if i not in free), base=0)


# In (a) dZ is the unknown itself: a student may not answer `dZ[i,j,m]`.
TENSORS_A = {name: n for name, n in TENSORS.items() if name != "dZ"}


def sigmoid_layer_draws(rng: np.random.Generator) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Random X, W, b and upstream gradient dU = ∂J/∂U; the forward pass Z, U and, by autograd of
    J = Σ U·dU, the true ∂J/∂Z, ∂J/∂W, ∂J/∂X. Each entry has a leading axis over the draws."""
    gen = torch.Generator().manual_seed(int(rng.integers(2**31)))
    env: dict[str, list] = {name: [] for name in TENSORS}
    grads: dict[str, list] = {"Z": [], "W": [], "X": []}
    for _ in range(DRAWS):
        x = torch.randn(H3, W3, N3, generator=gen, dtype=f64, requires_grad=True)
        w = torch.randn(K1, K2, N3, M3, generator=gen, dtype=f64, requires_grad=True)
        b = torch.randn(M3, generator=gen, dtype=f64)
        z = conv_layer(x, w, b)
        z.retain_grad()
        u = torch.sigmoid(z)
        du = torch.randn(u.shape, generator=gen, dtype=f64)  # ∂J/∂U, given by back-propagation
        (u * du).sum().backward()
        for name, value in (("X", x), ("W", w), ("b", b), ("Z", z), ("U", u), ("dU", du), ("dZ", z.grad)):
            env[name].append(value.detach().numpy())
        for name, value in (("Z", z.grad), ("W", w.grad), ("X", x.grad)):
            grads[name].append(value.numpy())
    return {k: np.stack(v) for k, v in env.items()}, {k: np.stack(v) for k, v in grads.items()}


META = {"method": "autograd on a random sigmoid conv layer", "draws": DRAWS,
        "shapes": {"X": [H3, W3, N3], "W": [K1, K2, N3, M3]}}


def per_draw(env: dict[str, np.ndarray], fn) -> np.ndarray:
    """Apply `fn(draw)` (torch tensors of one draw) to every draw and stack the results."""
    out = []
    for d in range(next(iter(env.values())).shape[0]):
        out.append(fn({k: torch.as_tensor(v[d], dtype=f64) for k, v in env.items()}).detach().numpy())
    return np.stack(out)


def backprop_conv(t: dict[str, torch.Tensor], error: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(∂/∂X, ∂/∂W) of the conv when `error` is taken as the error signal of its outputs."""
    x = t["X"].clone().requires_grad_(True)
    w = t["W"].clone().requires_grad_(True)
    return torch.autograd.grad(conv_layer(x, w), (x, w), grad_outputs=error)


@hw.part("q3a", marks=2, kind=index_expr("i", "j", "m", tensors=TENSORS_A),
         solutions=("dU[i,j,m] * U[i,j,m] * (1 - U[i,j,m])",))
def q3a(rng):
    """(a) Given ∂J/∂U[i, j, m] (write dU[i,j,m]), show how to compute ∂J/∂Z[i, j, m]."""
    env, grads = sigmoid_layer_draws(rng)
    del env["dZ"]
    return Sample(env, grads["Z"], dict(META))


@q3a.mistake("sigmoid derivative missing", note="U = σ(Z), so the chain rule multiplies by σ'(Z) = U(1 − U).")
def _(env):
    return env["dU"]


@q3a.mistake("upstream gradient missing", note="∂J/∂Z is ∂J/∂U times σ'(Z): the factor dU is needed.")
def _(env):
    return env["U"] * (1 - env["U"])


@hw.part("q3b", marks=2, kind=index_expr("k1", "k2", "n", "m"),
         solutions=("sum_{i,j} dZ[i,j,m] * X[i+k1, j+k2, n]",))
def q3b(rng):
    """(b) Show how to compute ∂J/∂W[k1, k2, n, m] (you may use dZ[i,j,m] for ∂J/∂Z)."""
    env, grads = sigmoid_layer_draws(rng)
    return Sample(env, grads["W"], dict(META))


@q3b.mistake("sigmoid derivative missing", note="The weights feed Z, so the error signal is dZ = dU·U(1 − U), not dU.")
def _(env):
    return per_draw(env, lambda t: backprop_conv(t, t["dU"])[1])


def reversed_reads(t: dict[str, torch.Tensor]) -> torch.Tensor:
    """Σ_{i,j} dZ[i,j,m]·X[i−k1, j−k2, n] (a read before the start of X is 0): the gradient a
    student gets by reversing the kernel offsets."""
    x, dz = t["X"], t["dZ"]
    rows, cols = dz.shape[:2]
    out = torch.zeros(K1, K2, x.shape[2], dz.shape[2], dtype=f64)
    for k1 in range(K1):
        for k2 in range(K2):
            shifted = torch.zeros(rows, cols, x.shape[2], dtype=f64)
            shifted[k1:, k2:] = x[: rows - k1, : cols - k2]
            out[k1, k2] = torch.einsum("ijn,ijm->nm", shifted, dz)
    return out


@q3b.mistake("kernel flipped", note="The layer does not reverse the kernel: X[i+k1, j+k2, n], not X[i−k1, j−k2, n].")
def _(env):
    return per_draw(env, reversed_reads)


@hw.part("q3c", marks=2, kind=index_expr("i", "j", "n"),
         solutions=("sum_{k1,k2,m} dZ[i-k1, j-k2, m] * W[k1,k2,n,m]",))
def q3c(rng):
    """(c) Show how to compute ∂J/∂X[i, j, n] (you may use dZ[i,j,m] for ∂J/∂Z)."""
    env, grads = sigmoid_layer_draws(rng)
    return Sample(env, grads["X"], dict(META))


@q3c.mistake("sigmoid derivative missing", note="X feeds Z, so the error signal is dZ = dU·U(1 − U), not dU.")
def _(env):
    return per_draw(env, lambda t: backprop_conv(t, t["dU"])[0])


def unflipped_backprop(t: dict[str, torch.Tensor]) -> torch.Tensor:
    """Σ_{k1,k2,m} dZ[i+k1, j+k2, m] W[k1, k2, n, m] (dZ is 0 outside its range): the error
    signal slid over W the forward way instead of back."""
    dz = t["dZ"].permute(2, 0, 1)[None]  # (1, m, i, j)
    k1, k2 = t["W"].shape[:2]
    padded = F.pad(dz, (0, 2 * (k2 - 1), 0, 2 * (k1 - 1)))
    return F.conv2d(padded, t["W"].permute(2, 3, 0, 1))[0].permute(1, 2, 0)  # kernel as (n, m, k1, k2)


@q3c.mistake("indices not reversed", note="X[i, j, n] feeds Z[i−k1, j−k2, m]: the sum reads dZ at i − k1, j − k2.")
def _(env):
    return per_draw(env, unflipped_backprop)
