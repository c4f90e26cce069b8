# -*- coding: utf-8 -*-
# Copyright: contributors to aigateway.bifrost
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""File operations for a process that writes into directories other people control (docs/security.md).

The rules, whoever runs them (root on a root-only tree, or a child that has become the user who controls the tree):

* A file is opened with ``O_NOFOLLOW|O_NONBLOCK`` and checked on its descriptor (``fstat``): only a regular file with one
  link and at most ``max_size`` bytes is read. A symbolic link, FIFO, device, socket or directory is refused at once.
* Every name is used relative to one descriptor of the directory, opened once.
* New files (temporary files, backups) are created with ``O_CREAT|O_EXCL|O_NOFOLLOW`` and a private mode from their
  first byte; owner and mode are set on the descriptor (``fchown``, ``fchmod``) before the rename; file and directory
  are ``fsync``-ed.
* A new file is put in place with ``link`` (fails if the name appeared meanwhile), an existing one with ``rename``.

`path_controller` tells who controls a path, walking it with ``lstat`` and following only links that root owns.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import hashlib
import os
import stat
import time

DEFAULT_MAX_SIZE = 64 * 1024 * 1024
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
_DIRECTORY_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
_MAX_LINKS = 40
_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class FileError(Exception):
    """A file that cannot be merged; the message names it."""


class Snapshot:
    """What was read: the bytes (None once released, or for a missing file), the file's status and the SHA-256 of its
    content (None for a file that does not exist)."""

    __slots__ = ("data", "status", "digest")

    def __init__(self, data, status, digest=None):
        self.data = data
        self.status = status
        self.digest = digest if data is None else hashlib.sha256(data).digest()

    @property
    def exists(self):
        return self.status is not None

    def same_as(self, other):
        if self.status is None or other.status is None:
            return self.status is None and other.status is None
        mine, theirs = self.status, other.status
        return ((mine.st_dev, mine.st_ino, mine.st_size, mine.st_mtime_ns) == (theirs.st_dev, theirs.st_ino, theirs.st_size, theirs.st_mtime_ns)
                and self.digest == other.digest)


def _reason(exc):
    return exc.strerror or str(exc)


def open_directory(path, label):
    """A descriptor of the directory ``path`` (the caller acts as whoever controls it)."""
    try:
        return os.open(path, _DIRECTORY_FLAGS)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            raise FileError("%s: the directory %s does not exist" % (label, path)) from None
        if exc.errno == errno.ENOTDIR:
            raise FileError("%s: %s is not a directory" % (label, path)) from None
        raise FileError("%s: cannot open the directory %s: %s" % (label, path, _reason(exc))) from None


def read_snapshot(dir_fd, name, label, max_size, keep=True):
    """The file's bytes, status and hash, or a `Snapshot` of a missing file. Refuses anything but a regular file with one
    link. ``keep=False`` only hashes the content (a second look at a large file costs no second copy in memory)."""
    try:
        descriptor = os.open(name, _READ_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return Snapshot(None, None)
        if exc.errno == errno.ELOOP:
            raise FileError("%s: is a symbolic link; refused (links under a user's control are never followed)" % label) from None
        raise FileError("%s: cannot read the file: %s" % (label, _reason(exc))) from None
    try:
        status = os.fstat(descriptor)
        check_regular(status, label, max_size)
        chunks = []
        digest = hashlib.sha256()
        total = 0
        while True:
            chunk = os.read(descriptor, max(status.st_size + 1 - total, 1 << 16) if keep else 1 << 20)
            if not chunk:
                break
            total += len(chunk)
            if total > max_size:
                raise FileError("%s: is larger than max_size (%d bytes); refused" % (label, max_size))
            if keep:
                chunks.append(chunk)
            else:
                digest.update(chunk)
        # The status after the read, so that a write during the read shows as a change at the commit.
        if keep:
            return Snapshot(b"".join(chunks), os.fstat(descriptor))
        return Snapshot(None, os.fstat(descriptor), digest.digest())
    except OSError as exc:
        raise FileError("%s: cannot read the file: %s" % (label, _reason(exc))) from None
    finally:
        os.close(descriptor)


def check_regular(status, label, max_size):
    for test, kind in _KINDS:
        if test(status.st_mode):
            raise FileError("%s: is %s, not a regular file; refused" % (label, kind))
    if not stat.S_ISREG(status.st_mode):
        raise FileError("%s: is not a regular file; refused" % label)
    if status.st_nlink > 1:
        raise FileError("%s: has %d hard links; refused (another name could be a file its owner must not write)" % (label, status.st_nlink))
    if status.st_size > max_size:
        raise FileError("%s: is larger than max_size (%d bytes, the file has %d); refused" % (label, max_size, status.st_size))


def set_attributes(descriptor, status, uid, gid, mode):
    """Give the open file its owner, group and mode (-1 / None: keep); True if anything changed."""
    changed = False
    if (uid != -1 and uid != status.st_uid) or (gid != -1 and gid != status.st_gid):
        os.fchown(descriptor, uid, gid)
        changed = True
    if mode is not None and stat.S_IMODE(status.st_mode) != mode:
        os.fchmod(descriptor, mode)
        changed = True
    return changed


def fix_attributes(dir_fd, name, label, uid, gid, mode, max_size):
    """Set owner, group and mode of an existing file that needs no rewrite, on a descriptor opened without following."""
    try:
        descriptor = os.open(name, _READ_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        raise FileError("%s: cannot open the file: %s" % (label, _reason(exc))) from None
    try:
        status = os.fstat(descriptor)
        check_regular(status, label, max_size)
        return set_attributes(descriptor, status, uid, gid, mode)
    except OSError as exc:
        raise FileError("%s: cannot set the owner, group or mode: %s" % (label, _reason(exc))) from None
    finally:
        os.close(descriptor)


def create_exclusive(dir_fd, name, label, chunks, uid, gid, mode):
    """Create ``name`` (never an existing name, never through a link), write ``chunks``, set owner and mode, fsync."""
    try:
        descriptor = os.open(name, _CREATE_FLAGS, mode & 0o600, dir_fd=dir_fd)
    except OSError as exc:
        raise FileError("%s: cannot create %s: %s" % (label, name, _reason(exc))) from None
    try:
        for chunk in chunks:
            data = chunk.encode("utf-8") if isinstance(chunk, str) else chunk
            while data:
                written = os.write(descriptor, data)
                data = data[written:]
        set_attributes(descriptor, os.fstat(descriptor), uid, gid, None)
        os.fchmod(descriptor, mode)
        os.fsync(descriptor)
    except OSError as exc:
        os.close(descriptor)
        remove(dir_fd, name)
        raise FileError("%s: cannot write %s: %s" % (label, name, _reason(exc))) from None
    os.close(descriptor)


def temporary_name(name):
    return ".%s.%d.%s.tmp" % (name, os.getpid(), os.urandom(6).hex())


def backup_name(name):
    return "%s.%d.%s" % (name, os.getpid(), time.strftime("%Y-%m-%d@%H:%M:%S~"))


def remove(dir_fd, name):
    try:
        os.unlink(name, dir_fd=dir_fd)
    except OSError:
        pass


def commit(dir_fd, temporary, name, replace, label):
    """Put the temporary file in place; False when a new file's name was taken meanwhile (the caller merges again)."""
    try:
        if replace:
            os.rename(temporary, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        else:
            try:
                os.link(temporary, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd, follow_symlinks=False)
            except OSError as exc:
                if exc.errno == errno.EEXIST:
                    return False
                raise
            os.unlink(temporary, dir_fd=dir_fd)
        os.fsync(dir_fd)
    except OSError as exc:
        raise FileError("%s: cannot put the new file in place: %s" % (label, _reason(exc))) from None
    return True


def nearest_existing(directory):
    """The nearest existing ancestor of ``directory`` (itself included) and the missing ones below it, outermost first."""
    missing = []
    while not os.path.lexists(directory):
        missing.insert(0, directory)
        parent = os.path.dirname(directory)
        if parent == directory:
            break
        directory = parent
    return directory, missing


def make_directories(directory, label, owner_uid, uid, gid, mode, check_only=False):
    """Create the missing directories of ``directory``, only below an existing directory that ``owner_uid`` owns.

    So a missing home is never created: its parent (/home) belongs to root, not to the user. ``check_only``: only
    check (check mode).
    """
    existing, missing = nearest_existing(directory)
    if not missing:
        return []
    try:
        status = os.lstat(existing)
    except OSError as exc:
        raise FileError("%s: cannot check %s: %s" % (label, existing, _reason(exc))) from None
    if not stat.S_ISDIR(status.st_mode) or status.st_uid != owner_uid:
        raise FileError(
            "%s: the directory %s does not exist, and create_parents creates directories only inside a directory that "
            "the file's owner owns (%s is not; is the user's home missing?)" % (label, missing[0], existing))
    if check_only:
        return missing
    for path in missing:
        try:
            os.mkdir(path, 0o700)
            descriptor = os.open(path, _DIRECTORY_FLAGS | getattr(os, "O_NOFOLLOW", 0))
            try:
                set_attributes(descriptor, os.fstat(descriptor), uid, gid, None)
                os.fchmod(descriptor, mode)
            finally:
                os.close(descriptor)
        except OSError as exc:
            raise FileError("%s: cannot create the directory %s: %s" % (label, path, _reason(exc))) from None
    return missing


def path_controller(directory):
    """Who controls ``directory`` (an absolute path): None when only root can change any directory or link on the way
    to it; else ``(uid, gid, where)`` of the first directory or link on the way that someone else owns.

    Walks with ``lstat`` and follows only links that root owns (in directories only root controls), so it never follows
    a path a user controls. A directory that root owns but others may write (without the sticky bit) is an error.
    """
    pending = [part for part in directory.split("/") if part]
    current = "/"
    links = 0
    while pending:
        part = pending.pop(0)
        if part == ".":
            continue
        if part == "..":
            current = os.path.dirname(current)
            continue
        candidate = os.path.join(current, part)
        try:
            status = os.lstat(candidate)
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ENOTDIR):
                return None
            raise FileError("%s: cannot check: %s" % (candidate, _reason(exc))) from None
        if status.st_uid != 0:
            return status.st_uid, status.st_gid, candidate
        if stat.S_ISLNK(status.st_mode):
            links += 1
            if links > _MAX_LINKS:
                raise FileError("%s: too many levels of symbolic links" % directory)
            target = os.readlink(candidate)
            if target.startswith("/"):
                current = "/"
            pending[:0] = [piece for piece in target.split("/") if piece]
            continue
        if stat.S_ISDIR(status.st_mode) and status.st_mode & 0o022 and not status.st_mode & stat.S_ISVTX:
            raise FileError("%s: is writable by group or others (without the sticky bit); refusing to write below it as root" % candidate)
        current = candidate
    return None
