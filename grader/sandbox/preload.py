"""The modules the zygote imports before forking, so a child need not."""

# Student code often imports these; loaded here, an import in the child is a dictionary look-up
# (and works where the child may not read the library's files).
PRELOAD = [
    "math", "cmath", "random", "itertools", "functools", "collections", "copy", "dataclasses",
    "typing", "numbers", "fractions", "decimal", "statistics", "string", "re", "json", "time",
    "heapq", "bisect", "operator", "warnings", "unicodedata", "encodings.idna", "traceback",
    "io", "contextlib",
    "numpy", "numpy.linalg", "numpy.random", "numpy.fft", "torch", "torch.nn",
    "torch.nn.functional", "torch.optim", "torch.optim.lr_scheduler", "torch.autograd",
    "torch.autograd.gradcheck", "torch.utils.data", "torch.testing", "grader.code.harness",
    "cProfile", "pstats", "getpass", "ctypes.util",
]  # fmt: skip
# Imported by torch on first use, costing each child that needs them again, but making every
# fork dearer (page tables of ~70 MB more Python objects: measured, fork and exit 12 -> 45 ms):
# preloaded only for the parts that need them (Sandbox(preload=...)).
PRELOAD_GRADCHECK = ("torch.fx.experimental.symbolic_shapes",)  # sympy: 0.85 s a child
PRELOAD_TRAINING = ("torch._dynamo",)  # imported when an optimizer is made: 2 s a child
