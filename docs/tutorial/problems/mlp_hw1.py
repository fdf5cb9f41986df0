"""The tutorial's homework (docs/authoring.md): one linear layer, its ReLU, a derivative and a
short explanation. Every reference is computed with torch."""

import torch
import torch.nn.functional as F
from torch import nn

from grader.kinds import Expr, Int, Number, Vector
from grader.problemset import ProblemSet
from grader.sampling import Real
from grader.variants import IntVector

hw = ProblemSet("mlp-hw1", title="A first MLP homework", total=10)

# The sheet's input: the data point x (printed on the sheet; each student's own with variants).
hw.given(x=IntVector(3, -3, 3, printed=[3, -1, 1], label="the input x"))

# The layer's weights are fixed for everyone.
W = torch.tensor([[1.0, 0.0, -1.0], [2.0, 1.0, 0.0]], dtype=torch.float64)
b = torch.tensor([0.5, -1.0], dtype=torch.float64)


@hw.part("q1", marks=2, kind=Int(), solutions=("3*4 + 4",))
def q1():
    """How many trainable parameters has nn.Linear(3, 4)?"""
    return sum(p.numel() for p in nn.Linear(3, 4).parameters())


@q1.mistake("bias forgotten", note="Each of the 4 output units also has a bias.")
def _():
    return nn.Linear(3, 4).weight.numel()


@hw.part("q2", marks=3, kind=Vector(2), solutions=("[2.5, 4]",))
def q2(x):
    """The layer's pre-activation W·x + b for x = {x}, with
        W = [[1, 0, -1],
             [2, 1, 0]]   and   b = [0.5, -1]."""
    return F.linear(x, W, b)


@q2.mistake("bias left out", marks=1, note="Add b after the product W·x.")
def _(x):
    return W @ x


@hw.part("q3", marks=1, kind=Number(), uses=["q2"])
def q3(pre):
    """The sum of the ReLU of your answer to q2."""
    return torch.relu(pre).sum()


@hw.part("q4", marks=2, kind=Expr({"z": Real(-4, 4)}, functions=["tanh", "exp"], n_points=16), solutions=("1 - tanh(z)^2",))
def q4(z):
    """The derivative of tanh(z) with respect to z, as a formula in z."""
    z = z.clone().requires_grad_(True)  # z is one sampled point, a float64 tensor
    (grad,) = torch.autograd.grad(torch.tanh(z), z)
    return grad


@q4.mistake("square forgotten", marks=1, note="The chain rule gives 1 − tanh²(z).")
def _(z):
    return 1 - torch.tanh(z)


hw.manual(
    "q5", 2, "Why does a network of linear layers need a nonlinearity such as the ReLU?",
    rubric=[("Linear layers compose to one linear map", 1), ("So depth adds no expressive power", 1)],
    comments=["A formula (W2·W1·x) would make the point."],
    model_answer="A composition of linear maps is linear, so without a nonlinearity a deep network "
                 "computes no more than a single linear layer.",
)
