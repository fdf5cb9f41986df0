"""AI6126 Homework 1 (seeds/002_85956912c6f85460.txt): LeNet's parameter counts, a convolution
as a matrix product, and the binary cross-entropy loss.

Every reference is computed: the parameter counts from the LeNet of the sheet's table built from
`torch.nn` modules, the unrolled (Toeplitz) matrix by placing the kernel's
entries and checking its product with x against `F.conv2d`, the loss with
`F.binary_cross_entropy`. (The matrix printed with the seed's answer has a row of 15 entries,
and the seed's input image was lost: x below reproduces its result, −40 everywhere.)
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from grader.kinds import Choice, Expr, Int, Matrix, Number, Vector
from grader.problemset import ProblemSet
from grader.sampling import Count, Points, Real
from grader.variants import IntMatrix, IntVector, RationalVector

hw = ProblemSet(
    "ai6126-hw1",
    title="AI6126 Homework 1: parameter counts, convolution as a matrix product, cross-entropy",
    total=20,
    source="seeds/002_85956912c6f85460.txt",
)

f64 = torch.float64

# -- the inputs -----------------------------------------------------------------------------------
# Question 1: the input is 1×32×32; every conv filter and linear neuron has a bias; stride 1.
INPUT_SHAPE = (1, 32, 32)

# Question 2: a 4×4 image x and a 3×3 kernel K; valid convolution (cross-correlation, as conv
# layers compute it), stride 1.
# Question 3 (iii): the labels Y and predictions Ŷ of three examples.
hw.given(
    x=IntMatrix(4, 4, 0, 50, step=5, printed=[[20, 15, 10, 5], [30, 25, 20, 15], [40, 35, 30, 25], [50, 45, 40, 35]],
                label="Question 2: the 4×4 input x"),
    K=IntMatrix(3, 3, -2, 2, printed=[[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], label="Question 2: the 3×3 kernel"),
    Y=IntVector(3, 0, 1, printed=[1, 0, 0], label="Question 3 (iii): the labels Y"),
    Y_HAT=RationalVector(3, "0.1", "0.9", denominator=10, printed=["0.2", "0.5", "0.1"],
                         label="Question 3 (iii): the predictions Ŷ"),
)


# =================================================================================================
# Question 1 — parameters of LeNet (6 marks)
# =================================================================================================
def lenet() -> nn.Sequential:
    """The network of the sheet's table, layer by layer (names as in the table)."""
    return nn.Sequential(OrderedDict(
        conv1=nn.Conv2d(1, 6, 5), relu2=nn.ReLU(), maxpool3=nn.MaxPool2d(2),
        conv4=nn.Conv2d(6, 16, 5), relu5=nn.ReLU(), maxpool6=nn.MaxPool2d(2),
        conv7=nn.Conv2d(16, 120, 5), relu8=nn.ReLU(), flatten=nn.Flatten(),
        linear9=nn.Linear(120, 84), relu10=nn.ReLU(),
        linear11=nn.Linear(84, 10), logsoftmax12=nn.LogSoftmax(dim=1),
    ))


LENET = lenet()  # on the CPU: 61k weights are nothing, and a real forward pass is quick

# The sheet's "Output Shape" column, as produced by a forward pass (checked in the tests).
def output_shapes(net: nn.Sequential) -> dict[str, tuple[int, ...]]:
    """Each layer's output shape (without the batch axis) from a forward pass of one image."""
    x, shapes = torch.zeros(1, *INPUT_SHAPE), {}
    for name, layer in net.named_children():
        x = layer(x)
        shapes[name] = tuple(x.shape[1:])
    return shapes


OUTPUT_SHAPES = output_shapes(LENET)

LAYERS = ("conv1", "conv4", "conv7", "linear9", "linear11")


def params(layer: str) -> int:
    return sum(p.numel() for p in getattr(LENET, layer).parameters())


def weights_only(layer: str) -> int:
    return getattr(LENET, layer).weight.numel()


def q1_part(layer: str, row: str, solution: str):
    @hw.part(f"q1.{layer}", marks=1, kind=Int(), solutions=(solution,),
             prompt=f"The number of parameters of layer {row} of the table.")
    def count():
        return params(layer)

    @count.mistake("bias forgotten", note="Each conv filter and each linear neuron has a bias term.")
    def _():
        return weights_only(layer)

    return count


q1_part("conv1", "Conv2d-1", "(5*5*1+1)*6")
q1_part("conv4", "Conv2d-4", "(5*5*6+1)*16")
q1_part("conv7", "Conv2d-7", "(5*5*16+1)*120")
q1_part("linear9", "Linear-9", "120*84+84")
q1_part("linear11", "Linear-11", "84*10+10")


@hw.part("q1.total", marks=1, kind=Int(), uses=[f"q1.{name}" for name in LAYERS], solutions=("61706", "61,706"))
def q1_total(*layer_counts):
    """The total number of parameters of the network (ReLU, pooling and LogSoftmax have none)."""
    return int(sum(layer_counts))


# =================================================================================================
# Question 2 — convolution as a matrix product (5 marks)
# =================================================================================================
X_SHAPE, K_SHAPE = (4, 4), (3, 3)
OUT_H, OUT_W = X_SHAPE[0] - K_SHAPE[0] + 1, X_SHAPE[1] - K_SHAPE[1] + 1  # valid, stride 1: 2×2


def unrolled(kernel: torch.Tensor) -> torch.Tensor:
    """The (OUT_H·OUT_W)×16 matrix whose row r holds the kernel at the pixels output r reads."""
    rows = torch.zeros(OUT_H * OUT_W, X_SHAPE[0] * X_SHAPE[1], dtype=f64)
    for i in range(OUT_H):
        for j in range(OUT_W):
            for a in range(kernel.shape[0]):
                for b in range(kernel.shape[1]):
                    rows[i * OUT_W + j, (i + a) * X_SHAPE[1] + (j + b)] = kernel[a, b]
    return rows


def conv(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    return F.conv2d(x[None, None], kernel[None, None])[0, 0]


@hw.require("a flipped kernel gives another matrix")
def _(K):
    return not torch.equal(K, K.flip(0, 1))


MATRIX_SOLUTION = """
-1  0  1  0 -2  0  2  0 -1  0  1  0  0  0  0  0
 0 -1  0  1  0 -2  0  2  0 -1  0  1  0  0  0  0
 0  0  0  0 -1  0  1  0 -2  0  2  0 -1  0  1  0
 0  0  0  0  0 -1  0  1  0 -2  0  2  0 -1  0  1
"""


@hw.part("q2.matrix", marks=2, kind=Matrix(4, 16, per_entry=True), solutions=(MATRIX_SOLUTION,))
def q2_matrix(x, K):
    """Convert the kernel into the sparse Toeplitz matrix W (4×16) so that the convolution of x is
    W·vec(x), with x flattened row by row."""
    matrix = unrolled(K)
    assert torch.equal(matrix @ x.flatten(), conv(x, K).flatten()), "the unrolled kernel must reproduce F.conv2d"
    return matrix


@q2_matrix.mistake("kernel flipped", note="A conv layer cross-correlates: the kernel is placed as it is, not rotated.")
def _(K):
    return unrolled(K.flip(0, 1))


@hw.part("q2.result", marks=1, kind=Vector(4), uses=["q2.matrix"], solutions=("[-40, -40, -40, -40]",))
def q2_result(matrix, x):
    """The product W·vec(x) of your matrix with the flattened input."""
    return matrix @ x.flatten()


@hw.part("q2.output", marks=1, kind=Matrix(2, 2), uses=["q2.result"], solutions=("[[-40, -40], [-40, -40]]",))
def q2_output(result):
    """The convolution's output: the product reshaped to the output's 2×2 size."""
    return result.reshape(OUT_H, OUT_W)


hw.manual("q2.steps", 1, "Show your steps: how the kernel is unrolled, how x is flattened, how the result is reshaped.")


# =================================================================================================
# Question 3 — the binary cross-entropy loss (5 marks)
# =================================================================================================
hw.manual("q3.i", 1, "Give one reason why the mean squared error might not be a good loss for this binary classifier.")

BCE_SYMBOLS = {"y": Count(0, 1), "yhat": Real(0.05, 0.95)}  # y is a label, ŷ a predicted probability
N_POINTS = 24


def bce(y_hat, y) -> torch.Tensor:
    return F.binary_cross_entropy(torch.as_tensor(y_hat, dtype=f64), torch.as_tensor(y, dtype=f64), reduction="none")


BCE_POINTS = Points(
    where=lambda y: len(set(y)) >= 2,  # both labels, so each term of the loss is checked
    method="F.binary_cross_entropy, reduction='none'",
)


@hw.part("q3.ii", marks=1, kind=Expr(BCE_SYMBOLS, n_points=N_POINTS), points=BCE_POINTS,
         solutions=("-(y*log(yhat) + (1-y)*log(1-yhat))",))
def q3_ii(y, yhat):
    """Write down the binary cross-entropy loss of one example in terms of the label y and the
    prediction ŷ (write yhat)."""
    return bce(yhat, y)


@q3_ii.mistake("sign missing", note="The log of a probability is negative, and a loss never is: check the sign.")
def _(y, yhat):
    return -bce(yhat, y)


@q3_ii.mistake("negative-class term missing", note="The loss must also penalise a large ŷ when y = 0.")
def _(y, yhat):
    return bce(yhat, 1) * y


@hw.part("q3.iii", marks=2, kind=Number(), solutions=("-1/3*(log(0.2)+log(0.5)+log(0.9))",))
def q3_iii(Y, Y_HAT):
    """Compute the cost J averaged over the three examples Y = {Y:()}, Ŷ = {Y_HAT:()}
    with the binary cross-entropy loss (no penalty on the weights)."""
    return F.binary_cross_entropy(Y_HAT, Y)


@q3_iii.mistake("summed instead of averaged", note="J is the average over the three examples.")
def _(Y, Y_HAT):
    return F.binary_cross_entropy(Y_HAT, Y, reduction="sum")


def l2_shrinks_weights(penalty: float = 1.0) -> str:
    """Fit the same linear model by least squares with and without an L2 penalty and compare the
    norms of the weights (ridge weights are never larger)."""
    gen = torch.Generator().manual_seed(6126)
    inputs = torch.randn(20, 5, generator=gen, dtype=f64)
    targets = inputs @ torch.randn(5, generator=gen, dtype=f64) + 0.3 * torch.randn(20, generator=gen, dtype=f64)
    gram = inputs.T @ inputs
    model_b = torch.linalg.solve(gram, inputs.T @ targets)
    model_a = torch.linalg.solve(gram + penalty * torch.eye(5, dtype=f64), inputs.T @ targets)
    a, b = model_a.norm().item(), model_b.norm().item()
    return "same" if np.isclose(a, b) else ("smaller" if a < b else "larger")


@hw.part("q3.iv", marks=1, kind=Choice(["smaller", "larger", "same"]), solutions=("smaller",))
def q3_iv():
    """Model A is trained with L2 regularization, model B without. How do you expect model A's
    weights to compare to model B's: smaller, larger or the same?"""
    return l2_shrinks_weights()


# =================================================================================================
# Questions 4 and 5 (4 marks)
# =================================================================================================
hw.manual("q4", 2, "Why might we prefer to minimize the sum of absolute residuals (L1 loss) instead of the "
                   "residual sum of squares (L2 loss) for some data sets?")
hw.manual("q5", 2, "Explain why you shouldn't choose a very small mini-batch size when training with batch normalization.")
