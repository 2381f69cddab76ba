"""Files that hold personal data or secrets are readable by their owner only, whatever the umask.

Issue 13 ("Files"): the data folder holds the records database, Temporal's database, caught
mail with live answer links and addresses, audit bundles and generated passwords and keys. Under
a normal umask (022) each would be created readable by every account on the machine, so the
folder is made 0700 and every file in it 0600, set explicitly rather than left to the umask
(ICO, "Security": appropriate technical measures; NCSC Cloud Security Principle 2).
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """Create `path` (and missing parents) and make it 0700; return it."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    os.chmod(path, DIR_MODE)
    return path


def private_file(path: Path) -> Path:
    """Create `path` empty if it does not exist, and make it 0600; return it.

    For files another library fills (SQLite creates its -wal and -shm files with the mode of
    the database file, so creating the database file 0600 first covers all three).
    """
    path = Path(path)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE)
    try:
        os.fchmod(descriptor, FILE_MODE)
    finally:
        os.close(descriptor)
    return path


def write_private(path: Path, data: str | bytes, encoding: str = "utf-8") -> None:
    """Write `data` to `path` (replacing what was there), readable by its owner only."""
    body = data.encode(encoding) if isinstance(data, str) else data
    descriptor = os.open(Path(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(descriptor, "wb") as file:
        os.fchmod(file.fileno(), FILE_MODE)
        file.write(body)


def create_private(path: Path, data: str | bytes, encoding: str = "utf-8") -> bool:
    """Write `data` to a new file at `path`, 0600; False (and nothing written) if it exists.

    For a key made on first start: of two processes starting at once (the console and a
    worker), one writes it and both then read the same, whole key.
    """
    path = Path(path)
    draft = path.with_name(f".{path.name}.{os.getpid()}.draft")
    write_private(draft, data, encoding)
    try:
        # A hard link appears whole or not at all: no reader ever sees a half-written key.
        os.link(draft, path)
    except FileExistsError:
        return False
    finally:
        draft.unlink()
    return True


def restrict_tree(root: Path) -> None:
    """Make `root` and every folder under it 0700 and every file 0600 (an older data folder).

    Symbolic links are left alone: their target may be outside the data folder.
    """
    root = Path(root)
    if not root.is_dir():
        return
    os.chmod(root, DIR_MODE)
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            _chmod(Path(folder) / name, DIR_MODE)
        for name in files:
            _chmod(Path(folder) / name, FILE_MODE)


def _chmod(path: Path, mode: int) -> None:
    with contextlib.suppress(FileNotFoundError):  # a file removed while we walk
        if not stat.S_ISLNK(path.lstat().st_mode):
            os.chmod(path, mode)
