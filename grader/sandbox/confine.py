"""The layers that confine one test's child process, applied between fork and student code.

Every layer is independent of the others, so each still holds where another is not available:

- **user**: the child drops to a user of its own (no supplementary groups), so it can read only
  what any user may read and can signal or trace no other process of the grader.
- **rlimits**: address space, CPU seconds, file size, processes (threads included) and open files.
- **landlock**: the kernel's unprivileged access control (Linux 5.13+): the child may read only
  the Python installation and system libraries, write only its own working directory, execute
  nothing, and (ABI 4+) make no TCP connection, (ABI 6+) signal nothing outside itself.
- **seccomp**: a syscall filter (libseccomp through `pyseccomp`, which drives the system's
  maintained libseccomp with ctypes rather than hand-assembling BPF) refusing sockets, exec,
  new processes, tracing, mounts, namespaces, io_uring, bpf and kernel keyrings; threads are
  allowed (a clone without CLONE_THREAD is refused).
- **namespaces** are not here: the whole zygote runs inside bubblewrap when the kernel allows it
  (see zygote.bubblewrap_command), so every child inherits a namespace with no network, its
  own pid space and a read-only root holding only the Python installation.

Landlock is hand-written (three syscalls via ctypes): the PyPI package `landlock` is a
pre-release that covers only file-system rights and judges success by errno rather than by the
return value; the network and scoping rights here need ABI 4 and 6.
"""

from __future__ import annotations

import ctypes
import errno
import os
import resource
import signal
import site
import sys
from typing import Any

from grader.sandbox.limits import Limits

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long

PR_SET_NO_NEW_PRIVS = 38
PR_SET_DUMPABLE = 4
PR_SET_PDEATHSIG = 1
CLONE_THREAD = 0x00010000

# -- landlock ---------------------------------------------------------------------------------
_SYS_LANDLOCK_CREATE_RULESET = 444
_SYS_LANDLOCK_ADD_RULE = 445
_SYS_LANDLOCK_RESTRICT_SELF = 446
_LANDLOCK_CREATE_RULESET_VERSION = 1
_LANDLOCK_RULE_PATH_BENEATH = 1

FS_EXECUTE = 1 << 0
FS_WRITE_FILE = 1 << 1
FS_READ_FILE = 1 << 2
FS_READ_DIR = 1 << 3
FS_REFER = 1 << 13
FS_TRUNCATE = 1 << 14
FS_IOCTL_DEV = 1 << 15
_FS_V1 = (1 << 13) - 1  # EXECUTE .. MAKE_SYM
NET_BIND_TCP = 1 << 0
NET_CONNECT_TCP = 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0
SCOPE_SIGNAL = 1 << 1


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64), ("scoped", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, 0 when Landlock is absent or disabled."""
    result = _libc.syscall(_SYS_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(_LANDLOCK_CREATE_RULESET_VERSION))
    return max(int(result), 0)


def _fs_rights(abi: int) -> int:
    rights = _FS_V1
    if abi >= 2:
        rights |= FS_REFER
    if abi >= 3:
        rights |= FS_TRUNCATE
    if abi >= 5:
        rights |= FS_IOCTL_DEV
    return rights


def apply_landlock(abi: int, read_paths: list[str], write_paths: list[str]) -> None:
    """Restrict this process (and what it starts) to reading `read_paths` and writing `write_paths`."""
    handled = _fs_rights(abi)
    attr = _RulesetAttr(handled, NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 else 0, SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0)
    size = 8 if abi < 4 else 16 if abi < 6 else 24
    ruleset = _libc.syscall(_SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    if ruleset < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset failed")
    try:
        read = FS_READ_FILE | FS_READ_DIR
        for path, rights in [(p, read) for p in read_paths] + [(p, handled & ~FS_EXECUTE) for p in write_paths]:
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue  # a path this machine does not have
            try:
                if not os.path.isdir(path):
                    rights &= FS_READ_FILE | FS_WRITE_FILE | FS_TRUNCATE | FS_IOCTL_DEV
                rule = _PathBeneathAttr(rights & handled, fd)
                if _libc.syscall(_SYS_LANDLOCK_ADD_RULE, ctypes.c_int(ruleset), ctypes.c_int(_LANDLOCK_RULE_PATH_BENEATH), ctypes.byref(rule), ctypes.c_uint32(0)) < 0:
                    raise OSError(ctypes.get_errno(), f"landlock_add_rule failed for {path}")
            finally:
                os.close(fd)
        if _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS failed")
        if _libc.syscall(_SYS_LANDLOCK_RESTRICT_SELF, ctypes.c_int(ruleset), ctypes.c_uint32(0)) < 0:
            raise OSError(ctypes.get_errno(), "landlock_restrict_self failed")
    finally:
        os.close(ruleset)


def python_read_paths() -> list[str]:
    """What a child must be able to read: the interpreter, its libraries and the system's."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    paths.update(site.getsitepackages())
    paths.update(p for p in sys.path if p and os.path.isdir(p) and ("site-packages" in p or p.startswith(sys.base_prefix)))
    paths.update(["/usr", "/lib", "/lib64", "/etc/ld.so.cache", "/dev/urandom", "/dev/null", "/proc/cpuinfo", "/proc/meminfo", "/sys/devices/system/cpu"])
    return sorted(p for p in paths if p)


# -- seccomp ----------------------------------------------------------------------------------
# Refused with EPERM, so Python raises PermissionError with the syscall's failure.
DENIED_SYSCALLS = (
    # network
    "socket", "socketpair", "connect", "bind", "listen", "accept", "accept4",
    # programs and processes
    "execve", "execveat", "fork", "vfork", "ptrace", "process_vm_readv", "process_vm_writev",
    "pidfd_getfd", "kcmp",
    # the file system's shape, namespaces, identity
    "mount", "umount2", "pivot_root", "chroot", "unshare", "setns", "move_mount", "open_tree",
    "fsopen", "fsmount", "fspick", "mount_setattr", "mknod", "mknodat", "open_by_handle_at",
    "name_to_handle_at", "setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid",
    "setgroups", "setfsuid", "setfsgid", "capset",
    # kernel interfaces a test has no use for
    "io_uring_setup", "io_uring_enter", "io_uring_register", "bpf", "perf_event_open",
    "userfaultfd", "keyctl", "add_key", "request_key", "kexec_load", "kexec_file_load",
    "init_module", "finit_module", "delete_module", "swapon", "swapoff", "reboot", "syslog",
    "acct", "quotactl", "settimeofday", "clock_settime", "adjtimex", "clock_adjtime",
    "sethostname", "setdomainname", "iopl", "ioperm", "fanotify_init", "lookup_dcookie",
)  # fmt: skip


def build_seccomp() -> Any:
    """A libseccomp filter, built once in the zygote and loaded in each child (loading is one prctl)."""
    import pyseccomp as seccomp

    flt = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    for name in DENIED_SYSCALLS:
        try:
            flt.add_rule(seccomp.ERRNO(errno.EPERM), name)
        except (RuntimeError, OSError, ValueError):
            pass  # not a syscall on this architecture
    # a new process (clone without CLONE_THREAD) is refused; threads are not
    flt.add_rule(seccomp.ERRNO(errno.EPERM), "clone", seccomp.Arg(0, seccomp.MASKED_EQ, CLONE_THREAD, 0))
    # clone3 passes its flags in memory a filter cannot read: ENOSYS makes libc fall back to clone
    flt.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    return flt


# -- the child --------------------------------------------------------------------------------
def set_rlimits(limits: Limits, address_space: int) -> None:
    for which, value in (
        (resource.RLIMIT_AS, address_space),
        (resource.RLIMIT_CPU, limits.cpu_seconds),
        (resource.RLIMIT_FSIZE, limits.file_mb * 2**20),
        (resource.RLIMIT_NPROC, limits.processes),
        (resource.RLIMIT_NOFILE, limits.open_files),
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_MEMLOCK, 0),
        (resource.RLIMIT_MSGQUEUE, 0),
    ):
        hard = value + 1 if which == resource.RLIMIT_CPU else value  # SIGXCPU first, SIGKILL a second later
        resource.setrlimit(which, (value, hard))


def drop_user(uid: int) -> None:
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)


def confine(
    *,
    limits: Limits,
    address_space: int,
    workdir: str,
    uid: int | None,
    landlock: int,
    read_paths: list[str],
    seccomp_filter: Any,
) -> None:
    """Apply every available layer to the calling (child) process. Raises if one that was
    found available cannot be applied: a child is never left running half-confined."""
    os.chdir(workdir)
    parent = os.getppid()
    set_rlimits(limits, address_space)
    if uid is not None:
        drop_user(uid)
    # dies with the zygote, whatever session it moves to (set after the user change, which clears it)
    if _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0 or os.getppid() != parent:
        raise OSError(ctypes.get_errno(), "the zygote is gone")
    if _libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:  # no /proc/<pid>/mem for anyone else
        raise OSError(ctypes.get_errno(), "PR_SET_DUMPABLE failed")
    if landlock:
        apply_landlock(landlock, read_paths, [workdir, "/dev/null"])
    if seccomp_filter is not None:
        seccomp_filter.load()  # sets no_new_privs too
    elif _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS failed")
