"""NYU CSCI-GA 2572 Deep Learning, Homework 2, theory part (seeds/003_7539ef53af22fa0d.txt): conv
output sizes, the derivatives of a 1D conv layer, a gated recurrent network, loss curves.

Every reference is computed: sizes from real `torch.nn.Conv2d` / `Conv1d` modules (on the meta
device) at the sheet's settings or at sampled ones, derivatives of the 1D layer by autograd
(`torch.autograd.functional.jacobian`) on a real `F.conv1d` with random x, W (several draws),
shapes of the recurrent network's quantities from a forward and backward pass of its equations.
The sheet indexes x, W and f from 1; the index-expr parts say so (`base=1`).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.functional import jacobian

from grader.kinds import Choice, Shape, ShapeFormula
from grader.kinds.index_expr import IndexExpr
from grader.problemset import ProblemSet
from grader.sampling import Count, Points

hw = ProblemSet(
    "nyu-dl-hw2",
    title="NYU Deep Learning (Spring 2022), Homework 2 theory: CNNs and RNNs",
    total=50,
    source="seeds/003_7539ef53af22fa0d.txt",
)

f64 = torch.float64

# -- the inputs, as on the sheet ------------------------------------------------------------------
# 1.1 (a): a 10×11 image, a 5×5 kernel, stride 2, no padding.
IMAGE_A = (10, 11)
KERNEL_A, STRIDE_A = 5, 2

# 1.1 (c): x : {1..7} → R², one filter of size 5, stride 2, no dilation, no padding, no bias.
CHANNELS, POSITIONS = 2, 7
KERNEL_C, STRIDE_C = 5, 2
W_SHAPE = (1, CHANNELS, KERNEL_C)  # W ∈ R^{1×2×5}
DRAWS = 4


def squeezed(shape: tuple[int, ...]) -> tuple[int, ...]:
    """The same shape with its size-1 dimensions left out (an accepted way of writing it)."""
    return tuple(d for d in shape if d != 1)


# =================================================================================================
# 1.1 Convolutional neural networks (20 marks)
# =================================================================================================
def conv2d_output(C: int, H: int, W: int, K: int, P: int, S: int, D: int, filters: int) -> tuple[int, int, int]:
    """(F, H_out, W_out) of a real `nn.Conv2d` with `filters` filters applied to a C×H×W meta tensor."""
    layer = nn.Conv2d(C, filters, K, stride=S, padding=P, dilation=D, device="meta")
    return tuple(layer(torch.empty(1, C, H, W, device="meta")).shape[1:])


@hw.part("q1.1a", marks=2, kind=Shape(), solutions=("3x4",))
def q1_1a():
    """(a) The output dimension of a 5×5 convolution, stride 2, no padding, on a 10×11 image."""
    return conv2d_output(1, *IMAGE_A, K=KERNEL_A, P=0, S=STRIDE_A, D=1, filters=1)[1:]


@q1_1a.mistake("stride ignored", note="With stride 2 the kernel moves two pixels at a time.")
def _():
    return conv2d_output(1, *IMAGE_A, K=KERNEL_A, P=0, S=1, D=1, filters=1)[1:]


CONV_SYMBOLS = {
    "C": Count(1, 4), "F": Count(1, 8), "K": Count(1, 5), "S": Count(1, 3),
    "P": Count(0, 2), "D": Count(1, 3), "H": Count(1, 40), "W": Count(1, 40),
}
SIZE_MAX = 40
N_POINTS = 32


def valid_size(K, P, D):
    """The least input size with a valid output: H + 2P ≥ D(K−1) + 1."""
    return np.maximum(1, D * (K - 1) + 1 - 2 * P)


def strides_and_dilation(H, K, P, S, D) -> bool:
    """Strides that divide and that do not divide H + 2P − D(K−1) − 1, and a dilated kernel."""
    span = H + 2 * P - D * (K - 1) - 1
    strided = S > 1
    return bool((strided & (span % S != 0)).any() and (strided & (span % S == 0)).any() and ((D > 1) & (K > 1)).any())


CONV_SETTINGS = Points(
    N_POINTS,
    domains={"H": Count(valid_size, SIZE_MAX), "W": Count(valid_size, SIZE_MAX)},
    where=strides_and_dilation,
    method="output shape of torch.nn.Conv2d on meta tensors",
)


@hw.part("q1.1b", marks=3, kind=ShapeFormula(CONV_SYMBOLS), points=CONV_SETTINGS,
         solutions=("F x (floor((H+2P-D(K-1)-1)/S)+1) x (floor((W+2P-D(K-1)-1)/S)+1)",))
def q1_1b(C, H, W, K, P, S, D, F):
    """(b) The output dimension of a conv layer with F filters of size K×K, padding P, stride S and
    dilation D on a C×H×W input, as a formula in C, H, W, K, P, S, D, F."""
    return conv2d_output(C, H, W, K, P, S, D, F)


@q1_1b.mistake("floor missing", marks=1.5,
               note="When the stride does not divide the distance the kernel travels, the last partial step is dropped: round down.")
def _(H, W, K, P, S, D, F):
    return (F, (H + 2 * P - D * (K - 1) - 1) / S + 1, (W + 2 * P - D * (K - 1) - 1) / S + 1)


@q1_1b.mistake("dilation ignored", marks=1.5, note="A dilated kernel spans more pixels than its size: its taps are D pixels apart.")
def _(C, H, W, K, P, S, F):
    return conv2d_output(C, H, W, K, P, S, 1, F)


# -- (c) a 1D conv layer and its derivatives --------------------------------------------------------
def f_W(x: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
    """f_W(x) ∈ R^{1×2}: the layer's output (channel, position) for x of shape (channel, position)."""
    return F.conv1d(x[None], W, stride=STRIDE_C)[0]


def random_inputs(gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    return (torch.randn(CHANNELS, POSITIONS, generator=gen, dtype=f64),
            torch.randn(W_SHAPE, generator=gen, dtype=f64))


LAYER_C = nn.Conv1d(CHANNELS, 1, KERNEL_C, stride=STRIDE_C, bias=False, device="meta")
assert tuple(LAYER_C.weight.shape) == W_SHAPE
OUTPUT_C = tuple(LAYER_C(torch.empty(1, CHANNELS, POSITIONS, device="meta")).shape[1:])  # (1, 2)
_x, _W = random_inputs(torch.Generator().manual_seed(2572))
JACOBIAN_W = tuple(jacobian(lambda W: f_W(_x, W), _W).shape)  # numerator layout: f's shape, then W's
JACOBIAN_X = tuple(jacobian(lambda x: f_W(x, _W), _x).shape)


def grad_W(x: torch.Tensor, W: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """∂ℓ/∂W by autograd when ∂ℓ/∂f = g (ℓ = Σ_j g[j] f[1, j] has exactly that gradient)."""
    W = W.clone().requires_grad_(True)
    (f_W(x, W)[0] * g).sum().backward()
    return W.grad


GRAD_W = tuple(grad_W(_x, _W, torch.ones(OUTPUT_C[1], dtype=f64)).shape)


def layer_draw(gen: torch.Generator) -> dict[str, torch.Tensor]:
    """Random x, W and upstream gradient g = ∂ℓ/∂f of one draw."""
    x, W = random_inputs(gen)
    return {"x": x, "W": W, "g": torch.randn(OUTPUT_C[1], generator=gen, dtype=f64)}


LAYER_DRAWS = Points(DRAWS, setup=layer_draw, method="autograd on F.conv1d")


@hw.part("q1.1c.i.shape", marks=1, kind=Shape(), solutions=("1x2",))
def q1_1c_i_shape():
    """(c)(i) The dimension of the output f_W(x)."""
    return OUTPUT_C


@q1_1c_i_shape.alternative("single output channel left out", note="f_W(x) ∈ R^{1×2}; R² describes the same values.")
def _():
    return squeezed(OUTPUT_C)


@hw.part("q1.1c.i.expr", marks=1, kind=IndexExpr({"W": 3, "x": 2}, free=("j",), indices=("c", "k"), base=1),
         points=LAYER_DRAWS, solutions=("sum_{c=1}^{2} sum_{k=1}^{5} W[1,c,k] * x[c, 2(j-1)+k]",))
def q1_1c_i_expr(x, W):
    """(c)(i) An expression for the elements f_W(x)[1, j] (write f[j]) of the output."""
    return f_W(x, W)[0]


@q1_1c_i_expr.mistake("kernel flipped", note="The layer cross-correlates: the kernel is not reversed.")
def _(x, W):
    return f_W(x, W.flip(-1))[0]


@hw.part("q1.1c.ii.shape", marks=2, kind=Shape(), solutions=("1x2x1x2x5",))
def q1_1c_ii_shape():
    """(c)(ii) The dimension of ∂f_W(x)/∂W (numerator layout)."""
    return JACOBIAN_W


@q1_1c_ii_shape.alternative("size-1 dimensions squeezed", note="1×2×1×2×5 with its size-1 dimensions left out.")
def _():
    return squeezed(JACOBIAN_W)


@hw.part("q1.1c.ii.expr", marks=2, kind=IndexExpr({"x": 2, "W": 3}, free=("j", "c", "k"), indices=(), base=1),
         points=LAYER_DRAWS, solutions=("x[c, 2(j-1)+k]",))
def q1_1c_ii_expr(x, W):
    """(c)(ii) An expression for ∂f[j]/∂W[1, c, k]."""
    return jacobian(lambda w: f_W(x, w), W)[0, :, 0]


@hw.part("q1.1c.iii.shape", marks=2, kind=Shape(), solutions=("1x2x2x7",))
def q1_1c_iii_shape():
    """(c)(iii) The dimension of ∂f_W(x)/∂x (numerator layout)."""
    return JACOBIAN_X


@q1_1c_iii_shape.alternative("size-1 dimensions squeezed", note="1×2×2×7 with its size-1 dimension left out.")
def _():
    return squeezed(JACOBIAN_X)


@hw.part("q1.1c.iii.expr", marks=2, kind=IndexExpr({"x": 2, "W": 3}, free=("j", "c", "n"), indices=(), base=1),
         points=LAYER_DRAWS, solutions=("W[1, c, n-2(j-1)]",))
def q1_1c_iii_expr(x, W):
    """(c)(iii) An expression for ∂f[j]/∂x[c, n] (0 where the kernel does not reach position n)."""
    return jacobian(lambda v: f_W(v, W), x)[0]


@hw.part("q1.1c.iv.shape", marks=1, kind=Shape(), solutions=("1x2x5",))
def q1_1c_iv_shape():
    """(c)(iv) The dimension of ∂ℓ/∂W."""
    return GRAD_W


@q1_1c_iv_shape.alternative("size-1 dimension squeezed", note="W ∈ R^{1×2×5}; 2×5 leaves out the single filter.")
def _():
    return squeezed(GRAD_W)


@hw.part("q1.1c.iv.expr", marks=3, kind=IndexExpr({"x": 2, "W": 3, "g": 1}, free=("c", "k"), indices=("j",), base=1),
         points=LAYER_DRAWS, solutions=("sum_{j=1}^{2} g[j] * x[c, 2(j-1)+k]",))
def q1_1c_iv_expr(x, W, g):
    """(c)(iv) Given g[j] = ∂ℓ/∂f[j], an expression for ∂ℓ/∂W[1, c, k]."""
    return grad_W(x, W, g)[0]


@q1_1c_iv_expr.mistake("stride ignored", note="With stride 2, consecutive outputs read x two positions apart.")
def _(x, g):
    return torch.einsum("j,cjk->ck", g, x.unfold(-1, KERNEL_C, 1)[:, : len(g)])


hw.manual("q1.1c.iv.explain", 1, "(c)(iv) Explain the similarities and differences of this expression and the expression in (i).")


# =================================================================================================
# 1.2 Recurrent neural networks (20 marks)
# =================================================================================================
#   c[t] = σ(W_c x[t] + W_h h[t−1]),  h[t] = c[t] ⊙ h[t−1] + (1 − c[t]) ⊙ W_x x[t],  h[0] = 0,
#   x[t] ∈ R^n, h[t] ∈ R^m, W_c ∈ R^{m×n}, W_h ∈ R^{m×m}, W_x ∈ R^{m×n}.
RNN_SYMBOLS = {"m": Count(1, 9), "n": Count(1, 9)}
RNN_POINTS = 12
STEPS = 3


def rnn_weights(m: int, n: int, gen: torch.Generator, scale: float = 1.0) -> dict[str, torch.Tensor]:
    return {name: scale * torch.randn(shape, generator=gen, dtype=f64) / np.sqrt(shape[1])
            for name, shape in (("W_c", (m, n)), ("W_h", (m, m)), ("W_x", (m, n)))}


def rnn(weights: dict[str, torch.Tensor], xs: torch.Tensor, h0: torch.Tensor) -> tuple[list, list]:
    """Run equations (1) and (2) over the sequence xs (one x[t] per row): the c[t] and h[t]."""
    cs, hs, h = [], [], h0
    for x in xs:
        c = torch.sigmoid(weights["W_c"] @ x + weights["W_h"] @ h)
        h = c * h + (1 - c) * (weights["W_x"] @ x)
        cs.append(c)
        hs.append(h)
    return cs, hs


def rnn_pass(gen: torch.Generator, m: int, n: int) -> dict[str, torch.Tensor]:
    """Run the network at sizes (m, n) on random inputs and weights and back-propagate random
    ∂ℓ/∂h[t]: c[1] and ∂ℓ/∂W_x."""
    weights = rnn_weights(m, n, gen)
    weights["W_x"].requires_grad_(True)
    cs, hs = rnn(weights, torch.randn(STEPS, n, generator=gen, dtype=f64), torch.zeros(m, dtype=f64))
    dl_dh = [torch.randn(m, generator=gen, dtype=f64) for _ in hs]  # the given ∂ℓ/∂h[t]
    sum((h * g).sum() for h, g in zip(hs, dl_dh)).backward()
    return {"c": cs[0], "dW_x": weights["W_x"].grad}


RNN_SIZES = Points(
    RNN_POINTS,
    setup=rnn_pass,
    where=lambda m, n: (m != n).any(),  # so that m×n and n×m differ
    method="forward/backward pass of equations (1)-(2)",
)


hw.manual("q1.2a", 5, "(a) Draw a diagram for this recurrent neural network.")


@hw.part("q1.2b", marks=2, kind=ShapeFormula(RNN_SYMBOLS), points=RNN_SIZES, solutions=("m",))
def q1_2b(c):
    """(b) The dimension of c[t] (a formula in m and n)."""
    return c.shape


@q1_2b.alternative("column vector", note="c[t] ∈ R^m, written as an m×1 column.")
def _(m):
    return (m, 1)


@hw.part("q1.2c.shape", marks=2, kind=ShapeFormula(RNN_SYMBOLS), points=RNN_SIZES, solutions=("m x n",))
def q1_2c_shape(dW_x):
    """(c) The dimension of ∂ℓ/∂W_x (a formula in m and n)."""
    return dW_x.shape


@q1_2c_shape.alternative("numerator layout", note="The derivative of a scalar by an m×n matrix in numerator layout is n×m.")
def _(m, n):
    return (n, m)


hw.manual("q1.2c.expr", 6, "(c) Provide an expression for the values of ∂ℓ/∂W_x, given ∂ℓ/∂h[t] for t = 1..K.")
hw.manual("q1.2c.similar", 2, "(c) What are the similarities of the backward pass and the forward pass in this RNN?")


def gradient_through_time(steps: int = 40, m: int = 4, n: int = 3) -> float:
    """‖∂h[T]/∂h[1]‖ for random weights: how much of a gradient survives `steps` steps back."""
    gen = torch.Generator().manual_seed(2022)
    weights = rnn_weights(m, n, gen)
    xs = torch.randn(steps, n, generator=gen, dtype=f64)
    h1 = torch.randn(m, generator=gen, dtype=f64)
    return jacobian(lambda h: rnn(weights, xs[1:], h)[1][-1], h1).norm().item()


@hw.part("q1.2d.answer", marks=1, kind=Choice(["yes", "no"]), solutions=("yes",))
def q1_2d_answer():
    """(d) Can this network be subject to vanishing or exploding gradients?"""
    norm = gradient_through_time()
    return "yes" if norm < 1e-6 or norm > 1e6 else "no"


hw.manual("q1.2d.why", 2, "(d) Why (or why not)?")


# =================================================================================================
# 1.3 Debugging loss curves (10 marks)
# =================================================================================================
hw.manual("q1.3.1", 2, "1. What caused the spikes on the left of the loss curve?")
hw.manual("q1.3.2", 2, "2. How can they be higher than the initial value of the loss?")
hw.manual("q1.3.3", 3, "3. What are some ways to fix them?")
hw.manual("q1.3.4", 3, "4. Explain why the loss and accuracy are at these values before training starts.")
