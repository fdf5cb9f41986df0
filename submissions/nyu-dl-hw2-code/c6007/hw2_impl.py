"""A memory bomb (2.1.forward): grows a list of 64 MB blocks until something gives. The other parts are not done."""

# grader: common
import torch
import torch.nn.functional as F
from torch import nn


# grader: 2.1.forward
def conv1d(x, W):
    blocks = []
    while True:
        blocks.append(bytearray(64 * 2**20))
