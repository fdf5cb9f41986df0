"""CSC321H5 Homework 4 (seeds/000_351c60f60c134200.txt): AlexNet counts, a 2D conv and pooling
by hand, and the forward and backward pass of a small 1D conv net.

Every reference is computed: the AlexNet table from real `torch.nn` modules built on the meta
device (parameters by `numel`, units by a forward pass with hooks), the conv and pooling answers
with `torch.nn.functional`, the gradient with autograd.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F
from torch import nn

from grader.kinds import Expr, Int, Matrix, Number, Vector
from grader.problemset import Part, ProblemSet
from grader.sampling import Count
from grader.variants import Integer, IntMatrix, IntVector, OneOf

hw = ProblemSet(
    "csc321-hw4",
    title="CSC321H5 Homework 4: AlexNet, convolution and pooling, backprop through a 1D conv",
    total=30,
    source="seeds/000_351c60f60c134200.txt",
)

f64 = torch.float64

# -- the inputs, as printed on the sheet (each student's own when variants are on) ---------------
# Question 2: a 4×4 input X, a 3×3 kernel K and a bias; zero padding 1, stride 1.
# Question 3: conv1d (kernel w1 of size 3, 1 → 1 channel, no padding) → ReLU → fully connected 5 → 1
# → sigmoid, with the cross-entropy loss, on the data point x with the binary target t.
hw.given(
    X=IntMatrix(4, 4, -1, 2, printed=[[1, 2, 1, -1], [0, 0, 1, -1], [1, 0, 1, -1], [1, 1, 0, 0]],
                label="Question 2: the 4×4 input X"),
    K=IntMatrix(3, 3, -1, 1, printed=[[-1, 0, -1], [0, 1, 1], [1, 0, -1]], label="Question 2: the 3×3 kernel"),
    bias=OneOf(-2, -1, 1, 2, printed=-1, label="Question 2: the bias"),
    x=IntVector(7, -1, 3, printed=[1, 3, 2, 1, 1, 0, 1], label="Question 3: the data point x"),
    t=Integer(0, 1, printed=0, label="Question 3: its target t"),
    w1=IntVector(3, -2, 2, printed=[-1, 2, -1], label="Question 3: the conv kernel w(1)"),
)
# The rest of the network is fixed: no conv bias, all fully connected weights and the bias 1.
b1 = torch.tensor([0.0], dtype=f64)
w2 = torch.ones(5, dtype=f64)
b2 = torch.tensor(1.0, dtype=f64)


# =================================================================================================
# Question 1 — the AlexNet table (12 marks: 30 graded cells × 0.4)
# =================================================================================================
LAYERS = ("conv1", "conv2", "conv3", "conv4", "conv5", "fc1", "fc2", "out")
ROW_NAMES = dict(zip(LAYERS, ("Convolution Layer 1", "Convolution Layer 2", "Convolution Layer 3",
                              "Convolution Layer 4", "Convolution Layer 5", "Fully Connected Layer 1",
                              "Fully Connected Layer 2", "Output Layer")))
COLUMNS = {"in_units": "# Input Units", "out_units": "# Output Units", "params": "# Parameters",
           "connections": "# Connections"}
GIVEN = {("conv1", "in_units"), ("out", "out_units")}  # printed in the table: not graded


def paper_alexnet(groups: int) -> tuple[nn.Sequential, int]:
    """AlexNet as in Krizhevsky et al. (2012), Figure 2: 96-256-384-384-256 kernels. With
    groups=2, conv2/conv4/conv5 only see the kernel maps on their own GPU. The input is taken as
    227×227 so that conv1 (11×11, stride 4, no padding) yields 55×55 (the paper's 224 is an erratum).
    """
    # The local response normalisation after conv1 and conv2 has no parameters and keeps every
    # shape, so it is left out (on the meta device it would pull in torch's compiler stack, as an
    # out-of-place ReLU would: in-place, as in torchvision, it does not).
    net = nn.Sequential(
        nn.Conv2d(3, 96, 11, stride=4), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
        nn.Conv2d(96, 256, 5, padding=2, groups=groups), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
        nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(384, 384, 3, padding=1, groups=groups), nn.ReLU(inplace=True),
        nn.Conv2d(384, 256, 3, padding=1, groups=groups), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
        nn.Flatten(),
        nn.Dropout(), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True),
        nn.Dropout(), nn.Linear(4096, 4096), nn.ReLU(inplace=True),
        nn.Linear(4096, 1000),
    )
    return net, 227


def torchvision_alexnet() -> tuple[nn.Sequential, int]:
    """The single-tower model of torchvision (and the course's PyTorch demo): 64-192-384-256-256,
    224×224 input, adaptive average pooling to 6×6 before the classifier."""
    net = nn.Sequential(
        nn.Conv2d(3, 64, 11, stride=4, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
        nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
        nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
        nn.AdaptiveAvgPool2d((6, 6)), nn.Flatten(),
        nn.Dropout(), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True),
        nn.Dropout(), nn.Linear(4096, 4096), nn.ReLU(inplace=True),
        nn.Linear(4096, 1000),
    )
    return net, 224


CONVENTIONS = {
    "paper": lambda: paper_alexnet(groups=2),
    "paper-ungrouped": lambda: paper_alexnet(groups=1),
    "torchvision": torchvision_alexnet,
}
CONVENTION_NOTES = {
    "paper-ungrouped": "The paper's sizes with the two-GPU split of conv2, conv4 and conv5 ignored (groups=1).",
    "torchvision": "The single-tower 64-192-384-256-256 AlexNet of torchvision and the course's PyTorch demo.",
}
BIAS_NOTE = "Each output unit's bias is counted as one more connection."


def product(shape: tuple[int, ...]) -> str:
    """A count as a student would write it: `55*55*96` for a C×H×W map (height first)."""
    dims = (*shape[1:], shape[0]) if len(shape) == 3 else shape
    return "*".join(str(d) for d in dims)


@functools.cache
def alexnet_table(convention: str) -> dict[str, dict[str, tuple[int, str]]]:
    """Count every cell of the table for one reading of the paper: (value, the same as a product).

    Built on the meta device, so no weights are allocated; a forward pass of a meta tensor still
    gives every shape, and hooks on the conv/linear layers record what feeds them (after pooling)
    and what they produce.
    """
    with torch.device("meta"):
        net, size = CONVENTIONS[convention]()
    net.eval()
    layers = [m for m in net if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert len(layers) == len(LAYERS)
    seen: dict[nn.Module, tuple[tuple[int, ...], tuple[int, ...]]] = {}

    def record(layer: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        seen[layer] = (tuple(inputs[0].shape[1:]), tuple(output.shape[1:]))  # one image: drop the batch

    hooks = [m.register_forward_hook(record) for m in layers]
    net(torch.empty(1, 3, size, size, device="meta"))
    for h in hooks:
        h.remove()

    table = {}
    for name, layer in zip(LAYERS, layers):
        in_shape, out_shape = seen[layer]
        out_units = math.prod(out_shape)
        fan_in = layer.weight[0].numel()  # weights one output unit is wired to (per group for conv)
        fan_in_text = product(tuple(layer.weight.shape[1:])) if isinstance(layer, nn.Conv2d) else str(fan_in)
        per_unit_params = f"({fan_in_text}+1)*{layer.weight.shape[0]}"
        table[name] = {
            "in_units": (math.prod(in_shape), product(in_shape)),
            "out_units": (out_units, product(out_shape)),
            "params": (sum(p.numel() for p in layer.parameters()), per_unit_params),
            "weights": (layer.weight.numel(), f"{fan_in_text}*{layer.weight.shape[0]}"),
            "connections": (out_units * fan_in, f"{product(out_shape)}*{fan_in_text}"),
            "connections+bias": (out_units * (fan_in + 1), f"{product(out_shape)}*({fan_in_text}+1)"),
        }
    return table


def cell(convention: str, layer: str, column: str) -> int:
    return alexnet_table(convention)[layer][column][0]


def q1_part(layer: str, column: str) -> Part:
    """One cell of the table: the `paper` reading is the reference, the others are accepted."""
    part = Part(
        f"q1.{layer}.{column}",
        0.4,
        Int(),
        functools.partial(cell, "paper", layer, column),
        prompt=f"AlexNet table, {ROW_NAMES[layer]}: {COLUMNS[column]}.",
        solutions=tuple(dict.fromkeys([str(cell("paper", layer, column)), alexnet_table("paper")[layer][column][1]])),
    )
    columns = (column, "connections+bias") if column == "connections" else (column,)
    readings = [(convention, col) for convention in CONVENTIONS for col in columns][1:]  # [0]: the reference
    taken = {cell("paper", layer, column)}
    for convention, col in readings:
        value = cell(convention, layer, col)
        if value in taken:  # this reading agrees with one already accepted: nothing new to name
            continue
        taken.add(value)
        bias = col == "connections+bias"
        name = convention + (" (bias counted as a connection)" if bias else "")
        note = " ".join(filter(None, (CONVENTION_NOTES.get(convention), BIAS_NOTE if bias else None)))
        part.alternative(name, note)(functools.partial(cell, convention, layer, col))
    if column == "params":
        part.mistake("biases left out", note="Each output channel (unit) also has a trainable bias.")(
            functools.partial(cell, "paper", layer, "weights"))
    return hw.add(part)


for _layer in LAYERS:
    for _column in COLUMNS:
        if (_layer, _column) not in GIVEN:
            q1_part(_layer, _column)


# =================================================================================================
# Question 2 — convolution and pooling by hand (6 marks)
# =================================================================================================
def conv2d(image: torch.Tensor, kernel: torch.Tensor, bias: int | None, padding: int = 1) -> torch.Tensor:
    added = None if bias is None else torch.tensor([float(bias)], dtype=f64)
    return F.conv2d(image[None, None], kernel[None, None], added, padding=padding)[0, 0]


def max_pool(image: torch.Tensor) -> torch.Tensor:
    return F.max_pool2d(image[None], 2, stride=2)[0]


@hw.require("a flipped kernel gives another output")
def _(X, K, bias):
    return not torch.equal(conv2d(X, K, bias), conv2d(X, K.flip(0, 1), bias))


@hw.require("max and average pooling of X differ")
def _(X):
    return not torch.equal(max_pool(X), F.avg_pool2d(X[None], 2, stride=2)[0])


@hw.part("q2a", marks=3, kind=Matrix(4, 4, per_entry=True))
def q2a(X, K, bias):
    """Apply the 3×3 kernel to the 4×4 input with zero padding 1, stride 1 and bias {bias} (no ReLU,
    no pooling). Give the 4×4 output."""
    return conv2d(X, K, bias)


@q2a.mistake("kernel flipped", note="That is a true convolution; a conv layer cross-correlates (no flip).")
def _(X, K, bias):
    return conv2d(X, K.flip(0, 1), bias)


@q2a.mistake("bias left out", note="Every output unit also adds the bias {bias}.")
def _(X, K):
    return conv2d(X, K, bias=None)


@q2a.mistake("no padding", note="Without the zero padding of 1 the output is only 2×2; pad the input first to get 4×4.")
def _(X, K, bias):
    return conv2d(X, K, bias, padding=0)


@q2a.hint("A 2×2 result is what the kernel gives without padding: surround the 4×4 input with a "
          "border of zeros (padding 1) first, so that the output is 4×4.")
def _(answer):
    return answer.shape == (2, 2)


hw.manual("q2a.work", 1, "Show the computation of one output unit of part (a): the multiplications and additions.")


@hw.part("q2b", marks=1.5, kind=Matrix(2, 2))
def q2b(X):
    """Apply max pooling with kernel size 2 and stride 2 to the input X (not to your result of (a))."""
    return max_pool(X)


@q2b.mistake("average pooling", note="The question asks for max pooling.")
def _(X):
    return F.avg_pool2d(X[None], 2, stride=2)[0]


@q2b.mistake("pooled the result of (a)", note="Part (b) pools the input X itself, not your answer to (a).")
def _(X, K, bias):
    return max_pool(conv2d(X, K, bias))


hw.manual("q2b.work", 0.5, "Show the computation of one output unit of part (b).")


# =================================================================================================
# Question 3 — forward and backward pass of a 1D conv net (12 marks)
# =================================================================================================
def conv1d(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """The first layer's pre-activations: kernel `weight` slid over x without padding."""
    return F.conv1d(x[None, None], weight[None, None], b1)[0, 0]


def as_f64(value) -> torch.Tensor:
    return torch.as_tensor(value, dtype=f64)


@hw.require("the ReLU of question 3 passes some units and stops others")
def _(x, w1):
    conv = conv1d(x, w1)
    return bool((conv > 0).any() and (conv < 0).any())


@hw.require("the logit z of question 3 is at most 8 (y is not 1 to float precision)")
def _(x, w1):
    return float(w2 @ torch.relu(conv1d(x, w1)) + b2) <= 8


@hw.part("q3a.conv", marks=0.5, kind=Vector(5))
def q3a_conv(x, w1):
    """Forward pass for x = {x}, t = {t}: the 1D convolution's output (before the ReLU)."""
    return conv1d(x, w1)


@hw.part("q3a.h", marks=0.5, kind=Vector(5), uses=["q3a.conv"])
def q3a_h(conv):
    """Forward pass: the hidden units after the ReLU."""
    return torch.relu(as_f64(conv))


@hw.part("q3a.z", marks=0.5, kind=Number(), uses=["q3a.h"])
def q3a_z(h):
    """Forward pass: the output unit's logit z (fully connected layer, all weights and the bias 1)."""
    return w2 @ as_f64(h) + b2


@hw.part("q3a.y", marks=0.5, kind=Number(), uses=["q3a.z"], solutions=("sigmoid(5)",))
def q3a_y(z):
    """Forward pass: the prediction y = σ(z)."""
    return torch.sigmoid(as_f64(z))


@hw.part("q3a.loss", marks=1, kind=Number(), uses=["q3a.y"], solutions=("log(1 + exp(5))",))
def q3a_loss(y, t):
    """Forward pass: the cross-entropy loss for the target t = {t}."""
    return F.binary_cross_entropy(as_f64(y), as_f64(float(t)))


@q3a_loss.follow_through_from("q3a.z")
def _(z, t):
    return F.binary_cross_entropy_with_logits(as_f64(z), as_f64(float(t)))


def backprop_to_w1(x: torch.Tensor, w1: torch.Tensor, dL_dconv: torch.Tensor) -> torch.Tensor:
    """Autograd through the conv: the error signal of w(1) given that of the conv's outputs."""
    w = w1.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(conv1d(x, w), w, grad_outputs=dL_dconv)
    return grad


def error_signal_h(y, t) -> torch.Tensor:
    """dL/dh: for a sigmoid output with cross-entropy, dL/dz = y − t; then through w(2)."""
    return (as_f64(y) - float(t)) * w2


@hw.part("q3b", marks=4, kind=Vector(3), uses=["q3a.h", "q3a.y"])
def q3b(h, y, x, w1, t):
    """Backpropagation: the error signal of the conv kernel w(1) (the gradient of the loss
    with respect to w(1)) for the same data point."""
    return backprop_to_w1(x, w1, error_signal_h(y, t) * (as_f64(h) > 0))


@q3b.mistake("sign flipped", note="The error signal is ∂L/∂w, not its negative (the update direction).")
def _(h, y, x, w1, t):
    return -backprop_to_w1(x, w1, error_signal_h(y, t) * (as_f64(h) > 0))


@q3b.mistake("ReLU derivative ignored", note="The ReLU passes the error signal only where its input was positive.")
def _(h, y, x, w1, t):
    return backprop_to_w1(x, w1, error_signal_h(y, t))


hw.manual("q3c", 2, "Explain why a 2D convolutional kernel (e.g. 3×3) over the V×T one-hot 'image' of a sentence is not reasonable.")

WORD_VECTORS = Expr({"V": Count(1, 5000)})  # the vocabulary size V, sampled


def conv1d_params(vocabulary: int, bias: bool = True) -> int:
    """Trainable parameters of a 1D conv (kernel 3, one output channel) over V input channels."""
    layer = nn.Conv1d(vocabulary, 1, 3, bias=bias, device="meta")
    return sum(p.numel() for p in layer.parameters())


@hw.part("q3d.params", marks=2, kind=WORD_VECTORS, solutions=("3V + 1",))
def q3d_params(V):
    """How many trainable parameters does the 1D convolution (kernel 3) over V-dimensional word
    vectors have? Answer as a formula in V."""
    return conv1d_params(V)


@q3d_params.mistake("bias forgotten", marks=1, note="The kernel's weights are not all its parameters: it has a bias too.")
def _(V):
    return conv1d_params(V, bias=False)


hw.manual("q3d.how", 1, "What computation lets a 1D convolution take account of each word being a V-dimensional vector?")
