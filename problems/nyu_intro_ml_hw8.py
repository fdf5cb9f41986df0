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
from grader.sampling import Points
from grader.variants import IntMatrix, OneOf

hw = ProblemSet(
    "nyu-intro-ml-hw8",
    title="NYU Introduction to Machine Learning, Homework 8: Convolutional Neural Networks",
    total=15,
    source="seeds/001_67878f0cb13f538f.txt",
)

f64 = torch.float64

# -- the inputs, as printed on the sheet (each student's own when variants are on) ---------------
# Question 1: Z[i, j] = Σ_{k1,k2} W[k1, k2] X[i+k1, j+k2] on the valid pixels, indexed from (0, 0).
# Question 2: X[i, j, n] of shape (height, width, channels), W[k1, k2, n, m] of shape (3, 3,
# channels, filters), valid pixels.
hw.given(
    X=IntMatrix(6, 5, 0, 3, printed=[[0, 0, 0, 0, 0],
                                     [0, 3, 3, 3, 0],
                                     [0, 3, 3, 3, 0],
                                     [0, 3, 2, 3, 0],
                                     [0, 3, 2, 3, 0],
                                     [0, 0, 0, 0, 0]], label="Question 1: the image X"),
    W=IntMatrix(2, 2, -1, 1, printed=[[1, -1], [1, -1]], label="Question 1: the kernel W"),
    height=OneOf(28, 32, 48, 64, printed=48, label="Question 2: the height of X"),
    width=OneOf(32, 48, 64, printed=64, label="Question 2: the width of X"),
    channels=OneOf(3, 8, 10, 16, printed=10, label="Question 2: the channels of X"),
    filters=OneOf(16, 20, 32, printed=20, label="Question 2: the output channels"),
)
W_SIZE = 2  # the kernel of question 1 is 2×2
KERNEL2 = 3  # and that of question 2 3×3

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


def flipped(image: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """The true convolution: what a student who flips W gets."""
    return correlate(image, kernel.flip(0, 1))


K_RANGE = range(W_SIZE)  # k1 (and k2: W is square) runs over the kernel's rows, from 0


def location(values: torch.Tensor, mask: torch.Tensor) -> LocationTarget:
    return LocationTarget(values=values.numpy(), mask=mask.numpy())


@hw.require("Z has a positive largest value, a negative smallest value and a zero")
def _(X, W):
    z = correlate(X, W)
    return bool(z.max() > 0 and z.min() < 0 and (z == 0).any())


@hw.require("the flipped kernel puts Z's largest and smallest values elsewhere")
def _(X, W):
    z, zf = correlate(X, W), flipped(X, W)
    return bool(((zf == zf.max()) & (z != z.max())).any() and ((zf == zf.min()) & (z != z.min())).any())


@hw.part("q1a.kmin", marks=0.5, kind=Int(), solutions=("0",))
def q1a_kmin():
    """(a) The lower limit of the summations over k1 and k2 in (1)."""
    return K_RANGE[0]


@hw.part("q1a.kmax", marks=0.5, kind=Int(), solutions=("1",))
def q1a_kmax():
    """(a) The upper limit of the summations over k1 and k2 in (1)."""
    return K_RANGE[-1]


@q1a_kmax.mistake("kernel size instead of the last index",
                  note="The arrays are indexed from 0: the last index is not the kernel's size.")
def _():
    return len(K_RANGE)


@hw.part("q1b", marks=1, kind=Shape(), solutions=("5x4",))
def q1b(X, W):
    """(b) The size of Z computed on the valid pixels only."""
    return tuple(correlate(X, W).shape)


@q1b.mistake("size of X", note="Only the pixels where the whole 2×2 kernel fits inside X are valid.")
def _(X):
    return tuple(X.shape)


@hw.part("q1c.value", marks=0.5, kind=Int(), solutions=("6",))
def q1c_value(X, W):
    """(c) The largest positive value of Z[i, j]."""
    return int(correlate(X, W).max())


@hw.part("q1c.where", marks=0.5, kind=Location(base=0, name="Z"), solutions=("(1, 3)",))
def q1c_where(X, W):
    """(c) One pixel location (i, j) where the largest value occurs."""
    z = correlate(X, W)
    return location(z, z == z.max())


@q1c_where.mistake("kernel flipped", note="Equation (1) is a convolution without reversal: W is not flipped.")
def _(X, W):
    z, zf = correlate(X, W), flipped(X, W)
    return location(z, zf == zf.max())


@hw.part("q1d.value", marks=0.5, kind=Int(), solutions=("-6",))
def q1d_value(X, W):
    """(d) The largest negative (most negative) value of Z[i, j]."""
    return int(correlate(X, W).min())


@hw.part("q1d.where", marks=0.5, kind=Location(base=0, name="Z"), solutions=("(1, 0)",))
def q1d_where(X, W):
    """(d) One pixel location (i, j) where the most negative value occurs."""
    z = correlate(X, W)
    return location(z, z == z.min())


@q1d_where.mistake("kernel flipped", note="Equation (1) is a convolution without reversal: W is not flipped.")
def _(X, W):
    z, zf = correlate(X, W), flipped(X, W)
    return location(z, zf == zf.min())


@hw.part("q1e", marks=1, kind=Location(base=0, name="Z"), solutions=("(0, 1)",))
def q1e(X, W):
    """(e) One pixel location (i, j) where Z[i, j] = 0."""
    z = correlate(X, W)
    return location(z, z == 0)


# =================================================================================================
# Question 2 — the sizes of a conv layer (4 marks)
# =================================================================================================
def layer2(channels: int, filters: int, padding: int = 0) -> nn.Conv2d:
    """The layer of question 2 as a torch module (weights on the meta device: shapes only)."""
    layer = nn.Conv2d(channels, filters, (KERNEL2, KERNEL2), padding=padding, device="meta")
    # torch stores the kernel as (m, n, k1, k2); the sheet's W[k1, k2, n, m] is the same tensor.
    assert tuple(layer.weight.permute(2, 3, 1, 0).shape) == (KERNEL2, KERNEL2, channels, filters)
    return layer


def z2_shape(height: int, width: int, channels: int, filters: int, padding: int = 0) -> tuple[int, int, int]:
    """Shape of Z in the sheet's (i, j, m) order, from a forward pass of a meta tensor."""
    z = layer2(channels, filters, padding)(torch.empty(1, channels, height, width, device="meta"))  # torch: (batch, C, H, W)
    _, m, i, j = z.shape
    return (i, j, m)


@hw.part("q2a", marks=1, kind=Shape(), solutions=("46x62x20",))
def q2a(height, width, channels, filters):
    """(a) X has shape ({height}, {width}, {channels}) and W shape (3, 3, {channels}, {filters}), valid pixels: the shapes of Z and U."""
    return z2_shape(height, width, channels, filters)


@q2a.mistake("padded to keep the size", note="Only the valid pixels count: the kernel must fit inside the input, with no padding.")
def _(height, width, channels, filters):
    return z2_shape(height, width, channels, filters, padding=1)


@hw.part("q2b.in", marks=0.5, kind=Int(), solutions=("10",))
def q2b_in(channels, filters):
    """(b) The number of input channels."""
    return layer2(channels, filters).in_channels


@hw.part("q2b.out", marks=0.5, kind=Int(), solutions=("20",))
def q2b_out(channels, filters):
    """(b) The number of output channels."""
    return layer2(channels, filters).out_channels


@hw.part("q2c", marks=1, kind=Int(), solutions=("46*62*20*3*3*10", "5133600"))
def q2c(height, width, channels, filters):
    """(c) How many multiplications must be performed to compute the convolution in that layer?"""
    # One multiplication per kernel weight (k1·k2·n of them) for every output unit Z[i, j, m].
    output_units = int(np.prod(z2_shape(height, width, channels, filters)))
    return output_units * layer2(channels, filters).weight[0].numel()


@hw.part("q2d", marks=1, kind=Int(), solutions=("(3*3*10+1)*20", "1820"))
def q2d(channels, filters):
    """(d) The total number of trainable parameters (W and b) in the layer."""
    return sum(p.numel() for p in layer2(channels, filters).parameters())


@q2d.mistake("bias forgotten", note="b[m] is learned too: one bias per output channel.")
def _(channels, filters):
    return layer2(channels, filters).weight.numel()


# =================================================================================================
# Question 3 — backpropagation through a sigmoid conv layer (6 marks)
# =================================================================================================
def conv_layer(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None = None) -> torch.Tensor:
    """Z[i, j, m] = Σ_{k1,k2,n} W[k1, k2, n, m] X[i+k1, j+k2, n] + b[m], in the sheet's layout."""
    return F.conv2d(x.permute(2, 0, 1)[None], w.permute(3, 2, 0, 1), b)[0].permute(1, 2, 0)


TENSORS = {"X": 3, "W": 4, "b": 1, "Z": 3, "U": 3, "dU": 3, "dZ": 3}


# In (a) dZ is the unknown itself: a student may not answer `dZ[i,j,m]`.
TENSORS_A = {name: n for name, n in TENSORS.items() if name != "dZ"}


def sigmoid_layer(gen: torch.Generator) -> dict[str, torch.Tensor]:
    """A random sigmoid conv layer: X, W, b and the upstream gradient dU = ∂J/∂U; the forward pass
    Z, U and, by autograd of J = Σ U·dU, the true ∂J/∂Z, ∂J/∂W, ∂J/∂X (dZ, dW, dX)."""
    x = torch.randn(H3, W3, N3, generator=gen, dtype=f64, requires_grad=True)
    w = torch.randn(K1, K2, N3, M3, generator=gen, dtype=f64, requires_grad=True)
    b = torch.randn(M3, generator=gen, dtype=f64)
    z = conv_layer(x, w, b)
    z.retain_grad()
    u = torch.sigmoid(z)
    du = torch.randn(u.shape, generator=gen, dtype=f64)  # ∂J/∂U, given by back-propagation
    (u * du).sum().backward()
    return {"X": x, "W": w, "b": b, "Z": z, "U": u, "dU": du, "dZ": z.grad, "dW": w.grad, "dX": x.grad}


LAYER_DRAWS = Points(DRAWS, setup=sigmoid_layer, method="autograd on a random sigmoid conv layer",
                     meta={"shapes": {"X": [H3, W3, N3], "W": [K1, K2, N3, M3]}})


def backprop_conv(X: torch.Tensor, W: torch.Tensor, error: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(∂/∂X, ∂/∂W) of the conv when `error` is taken as the error signal of its outputs."""
    x = X.clone().requires_grad_(True)
    w = W.clone().requires_grad_(True)
    return torch.autograd.grad(conv_layer(x, w), (x, w), grad_outputs=error)


@hw.part("q3a", marks=2, kind=IndexExpr(TENSORS_A, free=("i", "j", "m"), indices=("k1", "k2", "n"), base=0),
         points=LAYER_DRAWS,
         solutions=("dU[i,j,m] * U[i,j,m] * (1 - U[i,j,m])",))
def q3a(dZ):
    """(a) Given ∂J/∂U[i, j, m] (write dU[i,j,m]), show how to compute ∂J/∂Z[i, j, m]."""
    return dZ


@q3a.mistake("sigmoid derivative missing", note="U = σ(Z), so the chain rule also needs σ'(Z), written with U.")
def _(dU):
    return dU


@q3a.mistake("upstream gradient missing", note="The chain rule starts from the upstream gradient ∂J/∂U.")
def _(U):
    return U * (1 - U)


@hw.part("q3b", marks=2, kind=IndexExpr(TENSORS, free=("k1", "k2", "n", "m"), indices=("i", "j"), base=0),
         points=LAYER_DRAWS,
         solutions=("sum_{i,j} dZ[i,j,m] * X[i+k1, j+k2, n]",))
def q3b(dW):
    """(b) Show how to compute ∂J/∂W[k1, k2, n, m] (you may use dZ[i,j,m] for ∂J/∂Z)."""
    return dW


@q3b.mistake("sigmoid derivative missing", note="The weights feed Z, so the error signal to use is ∂J/∂Z, not ∂J/∂U.")
def _(X, W, dU):
    return backprop_conv(X, W, dU)[1]


@q3b.mistake("kernel flipped", note="The layer does not reverse the kernel (equation (1)).")
def _(X, dZ):
    """Σ_{i,j} dZ[i,j,m]·X[i−k1, j−k2, n] (a read before the start of X is 0): the gradient a
    student gets by reversing the kernel offsets."""
    rows, cols = dZ.shape[:2]
    out = torch.zeros(K1, K2, X.shape[2], dZ.shape[2], dtype=f64)
    for k1 in range(K1):
        for k2 in range(K2):
            shifted = torch.zeros(rows, cols, X.shape[2], dtype=f64)
            shifted[k1:, k2:] = X[: rows - k1, : cols - k2]
            out[k1, k2] = torch.einsum("ijn,ijm->nm", shifted, dZ)
    return out


@hw.part("q3c", marks=2, kind=IndexExpr(TENSORS, free=("i", "j", "n"), indices=("k1", "k2", "m"), base=0),
         points=LAYER_DRAWS,
         solutions=("sum_{k1,k2,m} dZ[i-k1, j-k2, m] * W[k1,k2,n,m]",))
def q3c(dX):
    """(c) Show how to compute ∂J/∂X[i, j, n] (you may use dZ[i,j,m] for ∂J/∂Z)."""
    return dX


@q3c.mistake("sigmoid derivative missing", note="X feeds Z, so the error signal to use is ∂J/∂Z, not ∂J/∂U.")
def _(X, W, dU):
    return backprop_conv(X, W, dU)[0]


@q3c.mistake("indices not reversed", note="Work out which outputs Z each X[i, j, n] feeds: in the backward pass the offsets change sign.")
def _(W, dZ):
    """Σ_{k1,k2,m} dZ[i+k1, j+k2, m] W[k1, k2, n, m] (dZ is 0 outside its range): the error
    signal slid over W the forward way instead of back."""
    dz = dZ.permute(2, 0, 1)[None]  # (1, m, i, j)
    k1, k2 = W.shape[:2]
    padded = F.pad(dz, (0, 2 * (k2 - 1), 0, 2 * (k1 - 1)))
    return F.conv2d(padded, W.permute(2, 3, 0, 1))[0].permute(1, 2, 0)  # kernel as (n, m, k1, k2)
