"""Writing a rendered file so that it is never seen half-written.

The text goes to a temporary file beside the target, is flushed, and is renamed over it
(`os.replace` is atomic on one file system): a full disk, a read-only folder or a kill
mid-write leaves the previous file, or none, never a truncated one, and no temporary file.

A run writes two files per submission, so this is lean: the temporary name is this
process's id and a counter (created exclusively, as `tempfile.mkstemp` does, without its
random names), and the folder is created only when the first write into it finds none.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

_serial = itertools.count()


def _create_beside(path: Path) -> tuple[int, str]:
    """A new, exclusively created temporary file in `path`'s folder (made if missing): (fd, name)."""
    while True:
        tmp = os.path.join(path.parent, f".tmp-{os.getpid()}-{next(_serial)}{path.suffix}")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644), tmp
        except FileExistsError:  # left by a process that had this id before: take the next
            continue
        except FileNotFoundError:
            if path.parent.is_dir():
                raise
            path.parent.mkdir(parents=True, exist_ok=True)


def write_atomic(path: Path, text: str, *, newline: str | None = "\n") -> Path:
    """Replace `path` with `text` (UTF-8) atomically; the folder is created if missing.
    `newline` as for `open` (`""`: the text's own line endings, as csv writes them)."""
    path = Path(path)
    fd, tmp = _create_beside(path)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline=newline) as fh:
            os.fchmod(fd, 0o644)  # whatever the umask: reports are read by staff and the web server
            fh.write(text)
            fh.flush()
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
