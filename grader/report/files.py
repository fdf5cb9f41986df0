"""Writing a rendered file so that it is never seen half-written.

The text goes to a temporary file beside the target, is flushed, and is renamed over it
(`os.replace` is atomic on one file system): a full disk, a read-only folder or a kill
mid-write leaves the previous file, or none, never a truncated one, and no temporary file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, text: str, *, newline: str | None = "\n") -> Path:
    """Replace `path` with `text` (UTF-8) atomically; the folder is created if missing.
    `newline` as for `open` (`""`: the text's own line endings, as csv writes them)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=path.suffix, dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline=newline) as fh:
            fh.write(text)
            fh.flush()
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600; reports are read by staff and the web server
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
