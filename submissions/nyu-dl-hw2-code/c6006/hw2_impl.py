"""An infinite loop when the code is loaded (2.1.forward). The other parts are not done."""

# grader: common
import torch
import torch.nn.functional as F
from torch import nn


# grader: 2.1.forward
def conv1d(x, W):
    return x

while True:  # never ends: stopped at the part's time limit
    pass
