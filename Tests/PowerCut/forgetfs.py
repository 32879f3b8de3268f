#!/usr/bin/python3
"""forgetfs: a FUSE filesystem that forgets, at a power cut, what was not synced (LazyFS's idea).

One flat directory kept in memory. Every file has what was written (what the programs read back)
and what was synced (by fsync, fdatasync or msync(MS_SYNC), which reach a FUSE filesystem as
FUSE_FSYNC); the directory has the names it holds and the names as of its last fsync. Writing
"cut" to the virtual file /.cut is the power cut: from then on every operation fails with EIO,
and the state a disk would show afterwards is saved to STORE:

  - only the names the directory had at its last sync exist (a file created, or renamed, without
    a sync of the directory is gone, or back under its old name);
  - each file holds what was synced, except that every 4 KiB page written since may also have
    reached the disk on its own (the kernel's background writeback): each such page is kept
    whole, lost whole, or torn (some 512-byte sectors new, the rest old), at random. So what
    was synced may be partly newer and partly older, as the spec says of a real cut.

Mounting it again with the same STORE brings that state back: the machine after the cut.

Usage: forgetfs.py MOUNTPOINT STORE [SEED]     (stays in the foreground; unmount with umount)
"""
import errno
import os
import pickle
import random
import stat
import sys
import threading
import time

from fusepy import FUSE, FuseOSError, Operations

PAGE = 4096
SECTOR = 512
CONTROL = "/.cut"


class Node:
    def __init__(self, mode, data=b""):
        self.mode = mode
        self.data = bytearray(data)
        self.synced = bytes(data)
        self.time = time.time()


class ForgetFS(Operations):
    # No lock operation: the kernel then keeps flock and fcntl locks itself, as on a local disk.
    lock = None

    def __init__(self, store, seed):
        self.store = store
        self.random = random.Random(seed)
        self.mutex = threading.Lock()
        self.off = False
        saved = {}
        if os.path.exists(store):
            with open(store, "rb") as file:
                saved = pickle.load(file)
        self.names = {name: Node(mode, data) for name, (mode, data) in saved.items()}
        self.synced_names = dict(self.names)

    # The power.

    def check(self):
        if self.off:
            raise FuseOSError(errno.EIO)

    def cut(self):
        """What the disk holds after the cut, saved for the next mount."""
        disk = {}
        for name, node in self.synced_names.items():
            old, new = node.synced, bytes(node.data)
            kept = bytearray(old)
            for start in range(0, max(len(old), len(new)), PAGE):
                page_old, page_new = old[start:start + PAGE], new[start:start + PAGE]
                if page_old == page_new or not page_new:
                    continue
                fate = self.random.choice(("lost", "kept", "torn"))
                if fate == "lost":
                    continue
                if len(kept) < start + len(page_new):
                    kept.extend(b"\0" * (start + len(page_new) - len(kept)))
                for sector in range(0, len(page_new), SECTOR):
                    if fate == "kept" or self.random.random() < 0.5:
                        kept[start + sector:start + sector + SECTOR] = page_new[sector:sector + SECTOR]
            disk[name] = (node.mode, bytes(kept))
        temporary = self.store + ".tmp"
        with open(temporary, "wb") as file:
            pickle.dump(disk, file)
            file.flush()
            os.fsync(file.fileno())
        os.rename(temporary, self.store)
        self.off = True

    # Files.

    def node(self, path):
        self.check()
        node = self.names.get(path)
        if node is None:
            raise FuseOSError(errno.ENOENT)
        return node

    def getattr(self, path, fh=None):
        if path == "/":
            return {"st_mode": stat.S_IFDIR | 0o755, "st_nlink": 2, "st_size": 0,
                    "st_atime": 0, "st_mtime": 0, "st_ctime": 0}
        if path == CONTROL:
            return {"st_mode": stat.S_IFREG | 0o200, "st_nlink": 1, "st_size": 0,
                    "st_atime": 0, "st_mtime": 0, "st_ctime": 0}
        with self.mutex:
            node = self.node(path)
            size = len(node.data)
            return {"st_mode": stat.S_IFREG | node.mode, "st_nlink": 1, "st_size": size,
                    "st_blocks": (size + 511) // 512, "st_blksize": PAGE,
                    "st_atime": node.time, "st_mtime": node.time, "st_ctime": node.time}

    def readdir(self, path, fh):
        with self.mutex:
            self.check()
            return [".", ".."] + [name[1:] for name in self.names]

    def create(self, path, mode, fi=None):
        with self.mutex:
            self.check()
            if path not in self.names:
                self.names[path] = Node(mode & 0o7777)
            return 0

    def open(self, path, flags):
        if path == CONTROL:
            return 0
        with self.mutex:
            self.node(path)
            if flags & os.O_TRUNC:
                self.names[path].data = bytearray()
            return 0

    def read(self, path, size, offset, fh):
        with self.mutex:
            return bytes(self.node(path).data[offset:offset + size])

    def write(self, path, data, offset, fh):
        if path == CONTROL:
            with self.mutex:
                if data.strip() == b"cut" and not self.off:
                    self.cut()
                return len(data)
        with self.mutex:
            node = self.node(path)
            if len(node.data) < offset:
                node.data.extend(b"\0" * (offset - len(node.data)))
            node.data[offset:offset + len(data)] = data
            node.time = time.time()
            return len(data)

    def truncate(self, path, length, fh=None):
        if path == CONTROL:
            return 0
        with self.mutex:
            node = self.node(path)
            if length < len(node.data):
                del node.data[length:]
            else:
                node.data.extend(b"\0" * (length - len(node.data)))
            return 0

    def chmod(self, path, mode):
        with self.mutex:
            self.node(path).mode = mode & 0o7777
            return 0

    def chown(self, path, uid, gid):
        with self.mutex:
            self.node(path)
            return 0

    def utimens(self, path, times=None):
        with self.mutex:
            self.node(path)
            return 0

    def rename(self, old, new):
        with self.mutex:
            self.names[new] = self.node(old)
            del self.names[old]
            return 0

    def unlink(self, path):
        with self.mutex:
            self.node(path)
            del self.names[path]
            return 0

    def fsync(self, path, datasync, fh):
        with self.mutex:
            node = self.node(path)
            node.synced = bytes(node.data)
            return 0

    def fsyncdir(self, path, datasync, fh):
        with self.mutex:
            self.check()
            self.synced_names = dict(self.names)
            return 0

    def flush(self, path, fh):
        return 0

    def release(self, path, fh):
        return 0

    def statfs(self, path):
        return {"f_bsize": PAGE, "f_frsize": PAGE, "f_blocks": 1 << 20, "f_bfree": 1 << 20,
                "f_bavail": 1 << 20, "f_files": 1 << 16, "f_ffree": 1 << 16, "f_namemax": 255}


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    seed = int(sys.argv[3]) if len(sys.argv) == 4 else 0
    FUSE(ForgetFS(sys.argv[2], seed), sys.argv[1], foreground=True, nothreads=True, default_permissions=False)
