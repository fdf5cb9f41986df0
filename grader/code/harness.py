"""The in-sandbox harness: runs one test of a student's code and returns only arrays.

This module is imported by the zygote and runs inside each confined child, next to student
code; it is the only place where student code is executed (`exec` of the student's own cells,
which is the point of a code question and why it happens only here). It holds nothing secret:
a test request carries probe inputs, never a reference output or a mistake variant's output,
and the child's answer is raw arrays plus small facts (dtypes, signature, error text). Every
verdict is reached by the grader from those arrays (grader.code.check), so a child that
tampers with this harness can only misreport its own results.
"""

from __future__ import annotations

import builtins
import inspect
import linecache
import traceback
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

TestKind = Literal["signature", "call", "grad", "vjp", "gradcheck", "fixture"]
MAX_OUTPUTS = 16
MESSAGE_CAP = 600
GRADCHECK_CAP = 256  # input and output elements; a Jacobian is at most this squared
FD_EPS = 1e-6  # torch.autograd.gradcheck's default finite-difference step


class Source(BaseModel):
    """One cell (or .py section) of student code, with where it came from for tracebacks."""

    name: str
    code: str
    first_line: int = 1


class Input(BaseModel):
    """An argument: an array sent alongside (cast to `dtype` as a torch tensor) or small JSON."""

    array: str | None = None
    dtype: str | None = None
    requires_grad: bool = False
    value: Any = None


class ModuleSetup(BaseModel):
    init: list[Any] = Field(default_factory=list)
    params: dict[str, str] = Field(default_factory=dict, description="parameter name -> array name")
    dtype: str = "float64"


class TestRequest(BaseModel):
    kind: TestKind
    entry: str
    module: ModuleSetup | None = None
    inputs: list[Input] = Field(default_factory=list)
    cotangents: list[str] = Field(default_factory=list, description="array names, one per output")
    backward: str | None = None
    fixture: str | None = Field(None, description="Instructor code defining run(entry, arrays, seed) -> dict of arrays.")
    seed: int = 0


# -- what a child answers (validated by the grader: it comes from beside student code) ------------
class Param(BaseModel):
    name: str = Field(max_length=80)
    kind: str = Field(max_length=40)
    default: bool = False


class Signature(BaseModel):
    type: str = Field(max_length=80)
    params: list[Param] = Field(default_factory=list, max_length=64)
    init: list[Param] = Field(default_factory=list, max_length=64)
    forward: list[Param] = Field(default_factory=list, max_length=64)


class ErrorFrame(BaseModel):
    file: str = Field(max_length=200)
    line: int | None = None
    text: str = Field("", max_length=400)


class ErrorInfo(BaseModel):
    type: str = Field(max_length=100)
    message: str = Field("", max_length=2 * MESSAGE_CAP)
    frames: list[ErrorFrame] = Field(default_factory=list, max_length=10)


class Facts(BaseModel):
    """The small facts beside a child's arrays; a fixture may add scalars of its own."""

    model_config = ConfigDict(extra="allow")

    signature: Signature | None = None
    dtypes: list[str] = Field(default_factory=list, max_length=MAX_OUTPUTS)
    error: ErrorInfo | None = None
    missing: list[str] = Field(default_factory=list, max_length=64)
    gradcheck: bool | None = None


# -- running student code -------------------------------------------------------------------
class StudentError(Exception):
    """A failure to report as the student's (a missing name, an unusable output)."""


def load_student(sources: list[Source]) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "__student__", "__builtins__": builtins}
    for source in sources:
        lines = source.code.splitlines(keepends=True)
        # make tracebacks show the student's lines although the file is not readable here
        linecache.cache[source.name] = (len(source.code), None, ["\n"] * (source.first_line - 1) + lines, source.name)
        padded = "\n" * (source.first_line - 1) + source.code
        exec(compile(padded, source.name, "exec", dont_inherit=True), namespace)  # noqa: S102 - the sandbox's purpose
    return namespace


def _entry(namespace: dict[str, Any], name: str) -> Any:
    if name not in namespace:
        defined = sorted(k for k, v in namespace.items() if not k.startswith("__") and (inspect.isfunction(v) or inspect.isclass(v)))
        raise StudentError(f"no {name!r} is defined" + (f"; found {', '.join(defined[:10])}" if defined else ""))
    return namespace[name]


def _signature(obj: Any) -> dict[str, Any]:
    import torch

    def params(fn: Any) -> list[dict[str, Any]]:
        try:
            sig = inspect.signature(fn)
        except (TypeError, ValueError):
            return []
        return [{"name": p.name[:60], "kind": p.kind.name, "default": p.default is not inspect.Parameter.empty} for p in sig.parameters.values()][:32]

    if inspect.isclass(obj):
        is_module = issubclass(obj, torch.nn.Module)
        forward = params(obj.forward) if is_module else []
        return {"type": "module" if is_module else "class", "init": params(obj)[:32], "forward": forward[1:] if forward[:1] and forward[0]["name"] == "self" else forward}
    if callable(obj):
        return {"type": "function", "params": params(obj)}
    return {"type": type(obj).__name__[:60]}


def _tensor(arrays: dict[str, np.ndarray], item: Input) -> Any:
    import torch

    if item.array is None:
        return item.value
    value = torch.from_numpy(arrays[item.array].copy())
    if item.dtype:
        value = value.to(getattr(torch, item.dtype))
    return value.requires_grad_(item.requires_grad)


def _outputs(result: Any, prefix: str) -> tuple[dict[str, np.ndarray], list[str]]:
    """Arrays and their original dtypes (torch's names: a float32 tensor reads `torch.float32`)."""
    import torch

    items = list(result) if isinstance(result, (tuple, list)) else [result]
    if len(items) > MAX_OUTPUTS:
        raise StudentError(f"returned {len(items)} values, more than {MAX_OUTPUTS}")
    arrays: dict[str, np.ndarray] = {}
    dtypes: list[str] = []
    for i, item in enumerate(items):
        if isinstance(item, torch.Tensor):
            dtypes.append(str(item.dtype))
            tensor = item.detach().cpu()
            if tensor.dtype == torch.bfloat16:
                tensor = tensor.float()
            arrays[f"{prefix}{i}"] = tensor.resolve_conj().numpy().copy()
        elif isinstance(item, (np.ndarray, np.generic, int, float, bool)):
            array = np.asarray(item)
            if array.dtype == object:
                raise StudentError(f"value {i} is not numeric")
            dtypes.append(f"numpy.{array.dtype.name}")
            arrays[f"{prefix}{i}"] = array
        elif item is None:
            dtypes.append("None")
        else:
            raise StudentError(f"value {i} is a {type(item).__name__}, not a tensor or an array")
    return arrays, dtypes


def _build(namespace: dict[str, Any], request: TestRequest, arrays: dict[str, np.ndarray]) -> tuple[Any, dict[str, Any]]:
    """The callable to test and, for a module, its parameters by the spec's names."""
    import torch

    obj = _entry(namespace, request.entry)
    if request.module is None:
        if not callable(obj) or inspect.isclass(obj):
            raise StudentError(f"{request.entry!r} is not a function")
        return obj, {}
    if not (inspect.isclass(obj) and issubclass(obj, torch.nn.Module)):
        raise StudentError(f"{request.entry!r} is not an nn.Module class")
    module = obj(*request.module.init)
    dtype = getattr(torch, request.module.dtype)
    module = module.to(dtype)
    named = dict(module.named_parameters())
    params: dict[str, Any] = {}
    with torch.no_grad():
        for name, array_name in request.module.params.items():
            value = torch.from_numpy(arrays[array_name].copy()).to(dtype)
            param = named.get(name)
            if param is None:
                param = named.get(f"{name}.weight")
            if param is None:
                found = ", ".join(sorted(named)[:10]) or "none"
                raise StudentError(f"the module has no parameter {name!r} (its parameters: {found})")
            if tuple(param.shape) != tuple(value.shape):
                raise StudentError(f"parameter {name!r} has shape {tuple(param.shape)}, expected {tuple(value.shape)}")
            param.copy_(value)
            params[name] = param
    return module, params


def _as_list(result: Any) -> list[Any]:
    return list(result) if isinstance(result, (tuple, list)) else [result]


def run_test(request: TestRequest, sources: list[Source], arrays: dict[str, np.ndarray]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Run one test; returns (facts, arrays). Student failures are reported, never raised."""
    import torch

    torch.manual_seed(request.seed)
    try:
        namespace = load_student(sources)
        if request.kind == "signature":
            return {"signature": _signature(_entry(namespace, request.entry))}, {}
        if request.kind == "fixture":
            return _run_fixture(request, namespace, arrays)
        fn, params = _build(namespace, request, arrays)
        inputs = [_tensor(arrays, item) for item in request.inputs]
        if request.kind == "call":
            out, dtypes = _outputs(fn(*inputs), "out")
            return {"dtypes": dtypes}, out
        if request.kind == "grad":
            return _grad(fn, params, inputs, request, arrays)
        backward = _entry(namespace, request.backward or "")
        if request.kind == "vjp":
            cots = [torch.from_numpy(arrays[c].copy()).to(inputs[0].dtype) for c in request.cotangents]
            out, dtypes = _outputs(backward(*cots, *inputs), "grad")
            return {"dtypes": dtypes}, out
        return _gradcheck(fn, backward, inputs)
    except MemoryError:
        return {"error": {"type": "MemoryError", "message": "ran out of memory (the test's address-space limit)"}}, {}
    except RecursionError:
        return {"error": {"type": "RecursionError", "message": "maximum recursion depth exceeded"}}, {}
    except StudentError as exc:
        return {"error": {"type": "StudentError", "message": str(exc)[:MESSAGE_CAP]}}, {}
    except BaseException as exc:  # noqa: BLE001 - anything student code raises is its result
        return {"error": describe(exc, {s.name for s in sources})}, {}


class _Tail:
    """A text stream keeping only the last `cap` characters written (printing costs no memory)."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.parts: list[str] = []
        self.size = 0

    def write(self, text: str) -> int:
        text = str(text)
        self.parts.append(text[-self.cap :] if self.cap else "")
        self.size += len(self.parts[-1])
        if self.size > 2 * self.cap:
            self.parts = ["".join(self.parts)[-self.cap :]]
            self.size = len(self.parts[0])
        return len(text)

    def flush(self) -> None:
        pass

    def text(self) -> str:
        return "".join(self.parts)[-self.cap :] if self.cap else ""


def run_captured(request: TestRequest, sources: list[Source], arrays: dict[str, np.ndarray], console_cap: int) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """`run_test` with what the code prints kept (its tail) in the facts as `console`."""
    import sys

    tail = _Tail(console_cap)
    sys.stdout = sys.stderr = tail  # type: ignore[assignment]
    try:
        facts, out = run_test(request, sources, arrays)
    finally:
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
    facts["console"] = tail.text()
    return facts, out


def describe(exc: BaseException, filenames: set[str]) -> dict[str, Any]:
    """The exception's type, message and the student's own frames (file, line, text)."""
    frames = [
        {"file": f.filename[:120], "line": f.lineno, "text": (f.line or "")[:160]}
        for f in traceback.extract_tb(exc.__traceback__)
        if f.filename in filenames
    ][-5:]
    return {"type": type(exc).__name__[:80], "message": str(exc)[:MESSAGE_CAP], "frames": frames}


def _grad(fn: Any, params: dict[str, Any], inputs: list[Any], request: TestRequest, arrays: dict[str, np.ndarray]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    import torch

    outs = _as_list(fn(*inputs))
    if len(outs) != len(request.cotangents):
        raise StudentError(f"returned {len(outs)} values, expected {len(request.cotangents)}")
    total = None
    for out, name in zip(outs, request.cotangents):
        if not isinstance(out, torch.Tensor):
            raise StudentError("returned a value that is not a tensor, so it has no gradient")
        if not out.requires_grad:
            raise StudentError("the output does not depend on the inputs through autograd (detached or computed outside torch)")
        term = (out * torch.from_numpy(arrays[name].copy()).to(out.dtype)).sum()
        total = term if total is None else total + term
    assert total is not None
    wrt = {f"input{i}": t for i, t in enumerate(inputs) if isinstance(t, torch.Tensor) and t.requires_grad}
    wrt.update({f"param:{n}": p for n, p in params.items()})
    grads = torch.autograd.grad(total, list(wrt.values()), allow_unused=True)
    result: dict[str, np.ndarray] = {}
    missing = []
    for name, grad in zip(wrt, grads):
        if grad is None:
            missing.append(name)
        else:
            result[name] = grad.detach().numpy().copy()
    return {"missing": missing}, result


def _gradcheck(fn: Any, backward: Any, inputs: list[Any]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The student's backward against their own forward, in float64.

    torch.autograd.gradcheck runs on an autograd.Function made of the two; the Jacobians it
    compares (central differences of the forward, the backward applied to each unit output
    gradient) are also sent back, so the grader re-checks them itself rather than trusting a
    flag computed next to student code.
    """
    import torch

    xs = [t.detach().to(torch.float64).requires_grad_(True) for t in inputs]
    if sum(t.numel() for t in xs) > GRADCHECK_CAP:
        raise StudentError("probe too large for gradcheck")

    class StudentFunction(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, *args: Any) -> Any:
            ctx.save_for_backward(*args)
            with torch.no_grad():
                return fn(*args)

        @staticmethod
        def backward(ctx: Any, *grads: Any) -> Any:
            with torch.no_grad():
                result = backward(*grads, *ctx.saved_tensors)
            return tuple(_as_list(result))

    ok = bool(torch.autograd.gradcheck(StudentFunction.apply, tuple(xs), eps=FD_EPS, raise_exception=False, fast_mode=False))
    with torch.no_grad():
        base = [o for o in _as_list(fn(*xs))]
        sizes = [o.numel() for o in base]
        if sum(sizes) > GRADCHECK_CAP:
            raise StudentError("output too large for gradcheck")
        arrays: dict[str, np.ndarray] = {}
        for i, x in enumerate(xs):
            numerical = torch.zeros(sum(sizes), x.numel(), dtype=torch.float64)
            flat = x.view(-1)
            for j in range(x.numel()):
                keep = flat[j].item()
                flat[j] = keep + FD_EPS
                plus = torch.cat([o.reshape(-1) for o in _as_list(fn(*xs))])
                flat[j] = keep - FD_EPS
                minus = torch.cat([o.reshape(-1) for o in _as_list(fn(*xs))])
                flat[j] = keep
                numerical[:, j] = (plus - minus) / (2 * FD_EPS)
            arrays[f"numerical{i}"] = numerical.numpy().copy()
        analytical = [torch.zeros(sum(sizes), x.numel(), dtype=torch.float64) for x in xs]
        row = 0
        for k, o in enumerate(base):
            for r in range(o.numel()):
                grads = [torch.zeros_like(b) for b in base]
                grads[k].view(-1)[r] = 1.0
                result = _as_list(backward(*grads, *xs))
                if len(result) != len(xs):
                    raise StudentError(f"the backward returned {len(result)} gradients for {len(xs)} inputs")
                for i, g in enumerate(result):
                    if not isinstance(g, torch.Tensor) or g.numel() != xs[i].numel():
                        raise StudentError(f"gradient {i} of the backward does not have its input's shape")
                    analytical[i][row] = g.reshape(-1).to(torch.float64)
                row += 1
        for i, a in enumerate(analytical):
            arrays[f"analytical{i}"] = a.numpy().copy()
    return {"gradcheck": ok}, arrays


def _run_fixture(request: TestRequest, namespace: dict[str, Any], arrays: dict[str, np.ndarray]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Instructor code drives the student's entry (a training step, say) and measures it."""
    entry = _entry(namespace, request.entry)
    scope: dict[str, Any] = {"__name__": "__fixture__", "__builtins__": builtins}
    exec(compile(request.fixture or "", "<fixture>", "exec", dont_inherit=True), scope)  # noqa: S102 - instructor code
    produced = scope["run"](entry, arrays, request.seed)
    facts = {k: v for k, v in produced.items() if isinstance(v, (bool, int, float, str))}
    out = {k: np.asarray(v) for k, v in produced.items() if k not in facts}
    return facts, out
