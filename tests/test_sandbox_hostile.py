"""Hostile student code against the sandbox, with and without namespaces.

Each submission must end non-correct within its time limit; nothing outside its working
directory may change; no connection may reach a listening socket on 127.0.0.1; and the
canary answer key (world-readable, so only the sandbox stands between it and the code) must
never be opened: an inotify watch on it records every open by any process.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import socket
import struct
import textwrap
import time
import uuid
from pathlib import Path

import pytest
import torch

from _code_fixtures import OpenWatch

from grader.code.grade import grade_code
from grader.sandbox.harness import Source
from grader.code.spec import CodeSpec, Variant, expect
from grader.sandbox import Ending, Limits, Sandbox, SandboxError

LIMIT = 1.5  # seconds per test
SLACK = 2.5  # the zygote's bookkeeping and a busy shared machine


def _double(x):
    return 2 * x + 1


SPEC = CodeSpec(entry="f", reference=_double, inputs={"x": (3, 4)}, probes=1, variants=(Variant("no offset", forward=lambda x: 2 * x),))
PROBES = expect(SPEC)
RIGHT = "def f(x):\n    return 2 * x + 1\n"

MODES = ["namespaces", "no-namespaces"]
REAL_KEY = Path(__file__).resolve().parents[1] / "reference" / "nyu-dl-hw2.json"


@pytest.fixture(scope="module", params=MODES)
def sandbox(request):
    if request.param == "namespaces" and shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed")
    box = Sandbox(namespaces=request.param == "namespaces")
    with box:
        yield box


@pytest.fixture
def course(tmp_path):
    """A course folder laid out like a real one, readable by every user, with a canary key."""
    token = f"CANARY-{uuid.uuid4().hex}"
    key = tmp_path / "course" / "reference" / "nyu-dl-hw2.json"
    key.parent.mkdir(parents=True)
    key.write_text(f'{{"secret": "{token}"}}')
    outside = tmp_path / "outside"
    outside.mkdir()
    for path in (tmp_path, tmp_path / "course", key.parent, outside):
        path.chmod(0o777)
    key.chmod(0o666)
    return {"key": key, "token": token, "outside": outside, "root": tmp_path}


def _snapshot(root: Path) -> dict[str, tuple[int, float, int]]:
    return {str(p): (p.stat().st_size, p.stat().st_mtime, p.stat().st_mode) for p in sorted(root.rglob("*"))}


def _grade(sandbox: Sandbox, code: str, **limits):
    started = time.monotonic()
    verdict = grade_code(sandbox, SPEC, PROBES, [Source(name="attack.py", code=textwrap.dedent(code))], Limits(seconds=LIMIT, **limits))
    return verdict, time.monotonic() - started


def test_right_code_is_correct(sandbox):
    verdict, _ = _grade(sandbox, RIGHT)
    assert verdict.status == "correct", verdict.feedback
    assert verdict.mistake is None


def test_a_named_mistake_is_named(sandbox):
    verdict, _ = _grade(sandbox, "def f(x):\n    return 2 * x\n")
    assert verdict.status == "incorrect"
    assert verdict.mistake == "no offset"


HOSTILE = {
    "raise": "def f(x):\n    raise RuntimeError('boom')\n",
    "segfault": "import ctypes\ndef f(x):\n    ctypes.string_at(0)\n",
    "exit without answer": "import os\ndef f(x):\n    os._exit(0)\n",
    "sys.exit": "import sys\ndef f(x):\n    sys.exit(0)\n",
    "infinite loop": "def f(x):\n    while True:\n        pass\n",
    "infinite loop on import": "while True:\n    pass\n",
    "sleep": "import time\ndef f(x):\n    time.sleep(60)\n",
    "memory bomb": "def f(x):\n    blocks = []\n    while True:\n        blocks.append(bytearray(50 * 2**20))\n",
    "torch memory bomb": "import torch\ndef f(x):\n    return torch.ones(2**33, dtype=torch.uint8)\n",
    "fork bomb": "import os\ndef f(x):\n    while True:\n        os.fork()\n",
    "thread bomb": "import threading, time\ndef f(x):\n    while True:\n        threading.Thread(target=time.sleep, args=(30,)).start()\n",
    "output bomb": "import torch\ndef f(x):\n    return torch.zeros(2**22, dtype=torch.float64)\n",
    "print bomb": "def f(x):\n    while True:\n        print('x' * 10000)\n",
    "kill the zygote": "import os, signal\ndef f(x):\n    os.kill(os.getppid(), signal.SIGKILL)\n    return 2 * x + 1\n",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_code_ends_non_correct_within_its_limit(sandbox, name):
    verdict, seconds = _grade(sandbox, HOSTILE[name], output_mb=4, memory_mb=256)
    assert verdict.status == "incorrect", (name, verdict)
    assert seconds < LIMIT * len(verdict.tests) + SLACK, (name, seconds, verdict.tests)
    # the zygote survived: the next submission is graded normally
    assert _grade(sandbox, RIGHT)[0].status == "correct"


def test_runaway_code_reports_the_tests_before_it(sandbox):
    code = "import torch\ndef f(x):\n    while x.dtype == torch.float64:\n        pass\n    return 2 * x + 1\n"
    verdict, _ = _grade(sandbox, code)
    endings = [t.ending for t in verdict.tests]
    assert Ending.timeout in endings
    assert endings[: endings.index(Ending.timeout)] == [Ending.finished] * endings.index(Ending.timeout)
    assert endings.index(Ending.timeout) >= 2  # loading and the float32 probe finished first
    assert "ran longer than" in verdict.feedback and "passed: signature" in verdict.feedback


def test_the_key_is_never_read(sandbox, course):
    watch = OpenWatch(course["key"])
    try:
        code = f"""
        import torch
        def f(x):
            found = ''
            for path in [{str(course['key'])!r}, '../' * 12 + {str(course['key'])[1:]!r}, {str(REAL_KEY)!r}]:
                try:
                    found += open(path).read()
                except OSError as exc:
                    print('refused', exc)
            print(found)
            return torch.tensor([ord(c) for c in found] or [0.0])
        """
        verdict, _ = _grade(sandbox, code)
        assert verdict.status == "incorrect"
        assert course["token"] not in verdict.console and course["token"] not in verdict.feedback
        assert REAL_KEY.read_text()[:80] not in verdict.console  # this repository's own committed key
        assert verdict.console.count("refused") == 3
        assert watch.events() == []  # not even opened, by anyone
    finally:
        watch.close()


def test_no_network_connection_is_made(sandbox):
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.setblocking(False)
    port = server.getsockname()[1]
    try:
        code = f"""
        import socket, urllib.request
        def f(x):
            for attempt in (lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM).connect(('127.0.0.1', {port})),
                            lambda: socket.socket(socket.AF_UNIX),
                            lambda: urllib.request.urlopen('http://127.0.0.1:{port}/', timeout=1)):
                try:
                    attempt()
                    print('connected')
                except Exception as exc:
                    print('refused', type(exc).__name__)
            socket.create_connection(('127.0.0.1', {port}), timeout=1)  # uncaught, as an attack would be
            return 2 * x + 1
        """
        verdict, _ = _grade(sandbox, code)
        assert verdict.status == "incorrect"
        assert "connected" not in verdict.console
        # socket() itself is refused (seccomp): PermissionError, before any address is looked up
        assert verdict.console.splitlines()[:2] == ["refused PermissionError"] * 2
        assert verdict.console.count("refused") == 3
        time.sleep(0.2)
        with pytest.raises(BlockingIOError):
            server.accept()
    finally:
        server.close()


def test_exec_is_refused(sandbox, course):
    marker = course["outside"] / "exec-ran"
    code = f"""
    import os, subprocess
    def f(x):
        print('system returned', os.system('touch {marker}'))  # os.system reports failure by its status
        for attempt in (lambda: subprocess.run(['/bin/sh', '-c', 'touch {marker}']),
                        lambda: os.posix_spawn('/bin/sh', ['sh', '-c', 'touch {marker}'], {{}}),
                        lambda: os.execv('/bin/sh', ['sh', '-c', 'touch {marker}'])):
            try:
                attempt()
            except Exception as exc:
                print('refused', type(exc).__name__)
        raise SystemExit('no exec')
    """
    verdict, _ = _grade(sandbox, code)
    assert verdict.status == "incorrect"
    assert not marker.exists()
    assert verdict.console.count("refused PermissionError") == 3
    assert "system returned 0" not in verdict.console


def test_nothing_outside_the_working_directory_changes(sandbox, course):
    before = _snapshot(course["root"])
    tmp_marker = Path("/tmp") / f"grader-sandbox-escape-{uuid.uuid4().hex}"
    code = f"""
    import os, pathlib
    def f(x):
        pathlib.Path('mine.txt').write_text('allowed: my own directory')
        for target in [{str(course['outside'] / 'written.txt')!r}, {str(tmp_marker)!r}, {str(course['key'])!r},
                       os.path.expanduser('~/../escape.txt'), '/escape.txt', {str(Path.cwd() / 'escape.txt')!r}]:
            try:
                with open(target, 'a') as fh:
                    fh.write('escaped')
                print('wrote', target)
            except OSError as exc:
                print('refused', type(exc).__name__)
        for victim in [{str(course['key'])!r}, {str(course['outside'])!r}]:
            try:
                os.rename(victim, victim + '.moved')
            except OSError:
                print('refused rename')
        open({str(course['outside'] / 'last.txt')!r}, 'w').write('escaped')  # uncaught
        return 2 * x + 1
    """
    verdict, _ = _grade(sandbox, code)
    assert "wrote" not in verdict.console
    assert verdict.console.count("refused") == 8  # six writes, two renames
    assert _snapshot(course["root"]) == before
    assert not tmp_marker.exists() and not (Path.cwd() / "escape.txt").exists()
    assert verdict.status == "incorrect"


def test_the_working_directory_is_writable(sandbox):
    code = "import pathlib\ndef f(x):\n    pathlib.Path('scratch.txt').write_text('notes')\n    assert pathlib.Path('scratch.txt').read_text() == 'notes'\n    return 2 * x + 1\n"
    assert _grade(sandbox, code)[0].status == "correct"


def test_identity_and_limits_inside_the_child(sandbox):
    code = """
    import ctypes, os, resource, torch

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Caps(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]

    def f(x):
        libc = ctypes.CDLL(None)
        caps = (Caps * 2)()
        libc.syscall(125, ctypes.byref(Header(0x20080522, 0)), caps)  # capget
        held = sum(c.effective | c.permitted for c in caps)
        dumpable = libc.prctl(3, 0, 0, 0, 0)  # PR_GET_DUMPABLE
        limits = [resource.getrlimit(r)[0] for r in (resource.RLIMIT_AS, resource.RLIMIT_CPU, resource.RLIMIT_FSIZE, resource.RLIMIT_NPROC, resource.RLIMIT_NOFILE)]
        return torch.tensor([os.getuid(), os.getgid(), len(os.getgroups()), held, dumpable, *limits], dtype=torch.float64)
    """
    outcome = sandbox.run({"kind": "call", "entry": "f", "inputs": [{"value": 0}]}, [{"name": "a.py", "code": textwrap.dedent(code)}], {}, Limits(seconds=LIMIT, file_mb=3, processes=7, open_files=33))
    uid, gid, groups, caps, dumpable, address, cpu, fsize, nproc, nofile = outcome.arrays["out0"].tolist()
    if os.geteuid() == 0:
        assert uid >= 2_000_000_000 and gid == uid and groups == 0
    assert caps == 0 and dumpable == 0
    assert 0 < address < 2**40 and cpu == 3 and fsize == 3 * 2**20 and nproc == 7 and nofile == 33


def test_layers_active_on_this_machine(sandbox):
    layers = sandbox.layers
    assert layers is not None and layers.seccomp and layers.rlimits
    assert layers.user == (os.geteuid() == 0)
    assert layers.namespaces == (sandbox.want_namespaces is not False)
    print(layers.summary())


def test_a_protected_path_the_child_could_read_is_refused():
    import site

    with pytest.raises(SandboxError, match="sandboxed code may read"):
        Sandbox(protected=[Path(site.getsitepackages()[0]) / "answer-key.json"]).start()


def test_torch_is_single_threaded_and_gradients_work(sandbox):
    code = """
    import torch
    def f(x):
        y = torch.randn(8, 8, requires_grad=True)
        (y @ y).sum().backward()
        return torch.tensor([torch.get_num_threads(), float(y.grad.abs().sum() > 0)])
    """
    outcome = sandbox.run({"kind": "call", "entry": "f", "inputs": [{"value": 0}]}, [{"name": "a.py", "code": textwrap.dedent(code)}], {}, Limits(seconds=LIMIT))
    assert outcome.ending is Ending.finished, outcome
    assert outcome.arrays["out0"].tolist() == [1.0, 1.0]


HEAP_SCAN = """
import ctypes
import torch

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

def heap_contains(needle):
    # the main malloc heap is one contiguous range ending at the program break
    libc = ctypes.CDLL(None)
    libc.mallinfo2.restype = MallInfo2
    libc.sbrk.restype = ctypes.c_void_p
    top = libc.sbrk(0)
    start = top - libc.mallinfo2().arena
    step = 1 << 20  # copies this large are mmap'd, outside the range scanned
    for base in range(start, top, step):
        if needle in ctypes.string_at(base, min(step, top - base)):
            return True
    return False

def f(x):
    needle = "{needle}"[::-1].encode()
    decoy = bytearray(b"~" * 1500 + "{decoy}"[::-1].encode() + b"~" * 1500)  # malloc'd on the heap
    return torch.tensor([float(heap_contains(needle)), float(heap_contains(bytes(decoy[1500:1540])))])
"""


def test_a_later_child_finds_no_trace_of_an_earlier_submission(sandbox):
    token = "SUBMISSION-A-" + uuid.uuid4().hex + "-" + uuid.uuid4().hex[:14]
    decoy = "DECOY-" + uuid.uuid4().hex + "-" + uuid.uuid4().hex[:2]
    first = f"# {token}\nSECRET = {token!r} * 40\ndef f(x):\n    return 2 * x + 1\n"
    assert _grade(sandbox, first)[0].status == "correct"
    code = HEAP_SCAN.replace("{needle}", token[::-1]).replace("{decoy}", decoy[::-1])
    outcome = sandbox.run({"kind": "call", "entry": "f", "inputs": [{"value": 0}]}, [{"name": "b.py", "code": code}], {}, Limits(seconds=10))
    assert outcome.ending is Ending.finished, outcome
    found_earlier, found_decoy = outcome.arrays["out0"].tolist()
    assert found_decoy == 1.0  # the scan does see what is on its heap
    assert found_earlier == 0.0  # ...and nothing of the earlier submission is there


def test_a_forged_answer_is_not_taken_for_one(sandbox):
    # a frame header announcing 2**40 bytes on the answer pipe, then the genuine answer
    verdict, _ = _grade(sandbox, "import os\ndef f(x):\n    os.write(3, (2**40).to_bytes(8, 'little'))\n    return 2 * x + 1\n")
    assert verdict.status == "incorrect"
    garbage, _ = _grade(sandbox, "import os\ndef f(x):\n    os.write(3, (5).to_bytes(8, 'little') + b'junk!')\n    return 2 * x + 1\n")
    assert garbage.status == "incorrect"


def test_the_graders_environment_and_processes_are_out_of_reach(monkeypatch):
    monkeypatch.setenv("GRADER_TEST_SECRET", "s3cr3t-" + uuid.uuid4().hex)
    code = f"""
    import os
    def f(x):
        seen = "|".join(f"{{k}}={{v}}" for k, v in os.environ.items())
        for path in ["/proc/{os.getpid()}/environ", "/proc/{os.getpid()}/cmdline", "/proc/1/environ"]:
            try:
                seen += open(path, "rb").read().decode(errors="replace")
            except OSError as exc:
                print("refused", type(exc).__name__)
        print(seen)
        return 2 * x + 1
    """
    with Sandbox() as box:
        verdict, _ = _grade(box, code)
    assert os.environ["GRADER_TEST_SECRET"] not in verdict.console
    assert verdict.console.count("refused") == 3


def test_a_dead_zygote_is_replaced(sandbox):
    assert sandbox.zygote_pid is not None
    os.killpg(sandbox.zygote_pid, 9)
    time.sleep(0.2)
    first, _ = _grade(sandbox, RIGHT)  # the test in flight is the grader's failure, not the student's
    assert first.status in ("correct", "error")
    again, _ = _grade(sandbox, RIGHT)
    assert again.status == "correct"


def test_a_child_that_leaves_the_session_dies_with_the_zygote(tmp_path):
    code = """
    import os, time, torch
    def f(x):
        os.setsid()  # out of the zygote's process group
        print(os.getpid())
        time.sleep(0.5)
        return torch.tensor([float(os.getpid())])
    """
    with Sandbox(namespaces=False) as box:
        outcome = box.run({"kind": "call", "entry": "f", "inputs": [{"value": 0}]}, [{"name": "a.py", "code": textwrap.dedent(code)}], {}, Limits(seconds=5))
        assert outcome.ending is Ending.finished
        pid = int(outcome.arrays["out0"][0])
        # a second child, still sleeping when its zygote is killed
        slow = code.replace("time.sleep(0.5)", "time.sleep(60)")
        import threading

        thread = threading.Thread(target=box.run, args=({"kind": "call", "entry": "f", "inputs": [{"value": 0}]}, [{"name": "a.py", "code": textwrap.dedent(slow)}], {}, Limits(seconds=30)))
        thread.start()
        time.sleep(1.0)
        sleepers = [p for p in _children_named(box.zygote_pid) if p != box.zygote_pid]
        os.killpg(box.zygote_pid, 9)
        thread.join(timeout=40)
    time.sleep(0.5)
    assert sleepers, "the slow child was not found"
    assert all(not Path(f"/proc/{p}").exists() or "Z" in Path(f"/proc/{p}/stat").read_text().split(")")[1][:3] for p in sleepers)
    assert pid > 0


def _children_named(root: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid == root:
                found.append(int(entry))
    return found


def test_forged_facts_are_refused_not_trusted(sandbox):
    # a well-formed frame whose facts have the wrong types: the grader must not crash on them
    code = """
    import json, os, struct
    header = json.dumps({"meta": {"signature": "bogus", "dtypes": 5, "gradcheck": [1]}, "arrays": []}).encode()
    frame = struct.pack("<I", len(header)) + header
    os.write(3, struct.pack("<Q", len(frame)) + frame)
    def f(x):
        return 2 * x + 1
    """
    verdict, _ = _grade(sandbox, code)
    assert verdict.status == "incorrect"
    assert "cannot read" in verdict.feedback
