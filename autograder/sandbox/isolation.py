"""Confining a submission's process before any of its code runs.

`confine` is called in the forked child, which is single-threaded at that
point (fork copies only the calling thread), so every layer below applies to
everything the submission will run. Each layer is used where the host allows
it and reported either way, so a report says which isolation was in force:

- namespaces: a new network namespace (no interface but a down loopback:
  no network at all); a new IPC namespace (SysV shared memory, semaphores
  and message queues, POSIX queues: none of the host's or another
  sandbox's, and all gone with the sandbox); and a new mount namespace
  whose whole file tree is a view (`_view`): a fresh tmpfs that holds,
  bind-mounted from the host, only the folders the submission may read and
  the course's (which Landlock refuses it, so reading them says EACCES),
  with /dev/shm and /dev/mqueue emptied. What is not in the view cannot be
  reached by any path, so no Unix socket the host keeps in /run, /tmp,
  /var or a home folder can be connected to (Landlock's filesystem rules
  do not cover connect(); its ABI 6 scope covers abstract sockets). The
  working directory is a size-capped tmpfs, so nothing the submission
  writes reaches the disk. As root directly; otherwise inside a new user
  namespace (Linux >= 3.8, if the host allows unprivileged user namespaces).
- user: when the grader runs as root, each submission graded at once (its
  slot) runs as a uid of its own, from a block of `SLOTS` uids that no
  account has and no file can belong to (`uid_block`), held by one pool at
  a time: the process budget (RLIMIT_NPROC counts per uid), /proc and
  signals are one submission's, and two graders on one host never share.
  Where Python sits in a folder closed to others (pyenv under /root), the
  view's own folders on the way to it are open to all, so that uid reaches
  Python and nothing else there. Where even that is impossible, the child
  stays uid 0 with every capability dropped for good (locked securebits).
- Landlock (Linux >= 5.13): the submission may read only the system, Python
  and its packages, minus the course folder and the kit's own packages
  (reference solutions, checks, sources); it may write only its working
  directory; no TCP bind or connect (ABI 4); no signals to processes outside
  its sandbox, so it cannot kill the grader (ABI 6).
- no_new_privs, so no setuid program can undo any of this.

Landlock is used through its three system calls with ctypes: there is no
Landlock binding in the standard library, and the calls are small.
"""

from __future__ import annotations

import ctypes
import dataclasses
import fcntl
import os
import platform
import pwd
import stat as _stat
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .private import own_builtins

__builtins__ = own_builtins()  # noqa: A001  (an exercise's Landlock layer goes on after student code: `bound`)

CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWNET, CLONE_NEWIPC = 0x00020000, 0x10000000, 0x40000000, 0x08000000
MS_REC, MS_PRIVATE, MS_NOSUID, MS_NODEV, MS_BIND = 0x4000, 1 << 18, 2, 4, 4096
MNT_DETACH = 2
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}.get(platform.machine())  # no libc wrapper
PR_SET_NO_NEW_PRIVS = 38
SYS_CREATE_RULESET, SYS_ADD_RULE, SYS_RESTRICT_SELF = 444, 445, 446  # the same on every architecture
RULE_PATH_BENEATH = 1

# Landlock filesystem rights (linux/landlock.h), by the ABI that added them.
EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1, 2, 4, 8
WRITES_V1 = WRITE_FILE | sum(1 << i for i in range(4, 13))  # remove/make dir, reg, sock, fifo, sym, ...
REFER, TRUNCATE = 1 << 13, 1 << 14
NET_BIND_TCP, NET_CONNECT_TCP = 1, 2
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1, 2
READ = EXECUTE | READ_FILE | READ_DIR

# Sandbox uids: blocks of SLOTS in 0x72000000.., inside the range systemd documents as unused
# (1879048192..2147352575: above container ranges, below the uids tools read as negative).
FIRST_UID, SLOTS, BLOCKS = 0x72000000, 256, 4096

SYSTEM_DIRS = ["/usr", "/lib", "/lib32", "/lib64", "/bin", "/sbin", "/etc", "/opt", "/proc", "/sys", "/dev"]
DEVICES_RW = ["/dev/null", "/dev/zero", "/dev/full", "/dev/urandom", "/dev/random"]
SHARED_IN_DEV = ["/dev/shm", "/dev/mqueue"]  # the host's POSIX shared memory and queues: emptied in the view

_libc = ctypes.CDLL(None, use_errno=True)


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _check(ret: int, what: str) -> int:
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return ret


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, 0 where Landlock is absent or disabled."""
    ret = _libc.syscall(SYS_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    return max(ret, 0)


def _roots(denied: list[Path]) -> list[str]:
    """The folders a submission may read, as this interpreter names them (not resolved): system and
    Python folders, and wherever else it imports from (a .pth file's folder: packages of another
    environment, as on a machine whose torch lives in a venv of its own), but never from inside a
    denied folder (an old-style editable install puts the course folder itself on sys.path)."""
    import site
    import sysconfig

    roots = SYSTEM_DIRS + [
        sys.base_prefix,
        sys.prefix,
        sys.exec_prefix,
        *site.getsitepackages(),
        *sysconfig.get_paths().values(),
    ]
    if os.environ.get("MPLCONFIGDIR"):
        roots.append(os.environ["MPLCONFIGDIR"])
    denied = [d.resolve() for d in denied]
    path = [p for p in sys.path if os.path.isabs(p) and os.path.isdir(p)]
    # and the packages linked into those folders from elsewhere (a venv whose packages are links to
    # another's, a Nix or conda store): a lazy import reads the link's target, which neither a bind
    # mount of the folder nor a Landlock rule on it brings along
    linked = [os.path.realpath(e.path) for p in path for e in os.scandir(p) if e.is_symlink() and e.is_dir()]
    roots += [
        p for p in path + linked if not any(Path(p).resolve() == d or d in Path(p).resolve().parents for d in denied)
    ]
    return list(dict.fromkeys(roots))


def readable_paths(denied: list[Path]) -> list[str]:
    """What a submission may read: system and Python folders, with `denied` cut out of them.

    Landlock can only allow, so a denied folder inside an allowed one is cut
    out by allowing its siblings instead (recursively, along the way down).
    A Python prefix inside a denied folder (a virtualenv in the course
    folder) is still allowed: it holds torch, not the course.
    """
    denied = [d.resolve() for d in denied]
    out: list[str] = []

    def allow(p: Path) -> None:
        if p in denied:
            return
        if any(p in d.parents for d in denied):
            for child in sorted(p.iterdir()):
                allow(child)
        else:
            out.append(str(p))

    for r in _roots(denied):
        p = Path(r)
        if p.exists():
            allow(p.resolve())
    return list(dict.fromkeys(out))


def outermost(paths: list[str]) -> list[str]:
    """`paths` without those inside another of them: what a bind mount of each brings along."""
    kept: list[str] = []
    for p in sorted(set(paths), key=lambda p: (p.count("/"), p)):
        if not any(Path(p).is_relative_to(k) for k in kept):
            kept.append(p)
    return kept


def links_on_the_way(paths: list[str]) -> list[tuple[str, str]]:
    """The symbolic links in the folders above and at each of `paths` (/lib -> usr/lib, a venv's
    prefix), and in their targets in turn: (where, what it says). The view makes them again, so a
    path as the interpreter names it (sys.path, the ELF interpreter /lib64/ld-linux...) still works."""
    found: dict[str, str] = {}
    todo = list(paths)
    while todo and len(found) < 256:
        at = "/"
        for part in Path(todo.pop()).parts[1:]:
            at = os.path.join(at, part)
            if os.path.islink(at):
                if at not in found:
                    found[at] = os.readlink(at)
                    todo.append(os.path.normpath(os.path.join(os.path.dirname(at), found[at])))
                at = os.path.realpath(at)
    return sorted(found.items())


# The calls Landlock needs, bound when this module is imported (in the pool server, before any
# student code): an exercise's process stacks its layer after the notebook's cells have run, when
def landlock(abi: int) -> Callable[[list[str], list[str]], None]:
    """`restrict(readable, writable)`: a Landlock layer on the calling process. Everything it calls
    is bound now: an exercise's process adds its layer after the cells ran (`bound`)."""
    open_, close, stat, isdir, syscall, byref = os.open, os.close, os.stat, _stat.S_ISDIR, _libc.syscall, ctypes.byref
    u64x3, size_t, u32, errno_, strerror = (
        ctypes.c_uint64 * 3,
        ctypes.c_size_t,
        ctypes.c_uint32,
        ctypes.get_errno,
        os.strerror,
    )
    flags, beneath = os.O_PATH | os.O_CLOEXEC, _PathBeneath
    fs = READ | WRITES_V1 | (REFER if abi >= 2 else 0) | (TRUNCATE if abi >= 3 else 0)
    net = NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 else 0
    scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0
    size = 8 if abi < 4 else 16 if abi < 6 else 24

    def check(ret: int, what: str) -> int:
        if ret < 0:
            err = errno_()
            raise OSError(err, f"{what}: {strerror(err)}")
        return ret

    def restrict(readable: list[str], writable: list[str]) -> None:
        attr = u64x3(fs, net, scoped)
        ruleset = check(syscall(SYS_CREATE_RULESET, attr, size_t(size), u32(0)), "landlock_create_ruleset")
        try:
            for paths, access in ((readable, READ), (writable, fs)):
                for path in paths:
                    try:
                        fd = open_(path, flags)
                    except OSError:
                        continue
                    try:
                        # a file (not a folder) takes only the rights that apply to files
                        rights = (
                            access
                            if isdir(stat(fd).st_mode)
                            else access & (EXECUTE | READ_FILE | WRITE_FILE | TRUNCATE)
                        )
                        rule = beneath(rights, fd)
                        check(
                            syscall(SYS_ADD_RULE, ruleset, RULE_PATH_BENEATH, byref(rule), u32(0)),
                            f"landlock_add_rule {path}",
                        )
                    finally:
                        close(fd)
            check(syscall(SYS_RESTRICT_SELF, ruleset, u32(0)), "landlock_restrict_self")
        finally:
            close(ruleset)

    return restrict


class ExerciseFiles:
    """Each exercise's process gets a folder of its own under the submission's working directory:
    the only place it may write, and one no other exercise's process can read. A Landlock layer
    stacked on the sandbox's does it (layers only ever narrow): reads as the sandbox's, plus what
    the notebook's cells left in the working directory; writes to its folder alone. So nothing an
    exercise harvests reaches another through files. Built before any student code runs."""

    PREFIX = "exercise-"

    def __init__(self, readable: list[str], abi: int):
        self.readable, self.abi = tuple(readable), abi
        self.calls = (os.mkdir, os.listdir, os.chdir, os.getcwd, os.urandom, os.symlink, os.environ.__setitem__)
        self.restrict = landlock(abi) if abi else None
        module = tempfile

        def forget_tempdir() -> None:
            module.tempdir = None  # tempfile caches the folder it found first

        self.forget_tempdir = forget_tempdir

    def enter(self, devices: tuple[str, ...]) -> str:
        """In a fresh exercise process: make its folder (a fresh random name: a cell cannot have put a
        link there), close the process in, and work there. What the cells left in the working
        directory shows in it through links, to read (a cell's `open("data.txt")` still works)."""
        mkdir, listdir, chdir, getcwd, urandom, symlink, setenv = self.calls
        workdir = getcwd()
        folder = workdir + "/" + self.PREFIX + urandom(8).hex()
        mkdir(folder, 0o700)
        left = [n for n in listdir(workdir) if not n.startswith(self.PREFIX)]
        for name in left:
            symlink("../" + name, folder + "/" + name)
        if self.restrict is not None:
            self.restrict([*self.readable, *(workdir + "/" + n for n in left)], [folder, *devices])
        chdir(folder)
        setenv("HOME", folder)
        setenv("TMPDIR", folder)
        self.forget_tempdir()
        return folder


def exercise_files(plan: Plan, layers: dict[str, str]) -> ExerciseFiles:
    """Per-exercise folders, walled off by Landlock where the sandbox's own layer is in force."""
    on = layers.get("filesystem", "").startswith("landlock")
    return ExerciseFiles(plan.readable, landlock_abi() if on else 0)


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def closed_ancestors(paths: list[str]) -> dict[str, list[str]]:
    """For paths `nobody` cannot reach because a folder above them is closed to others (Python
    installed under /root, mode 0700): that folder -> the outermost such paths below it."""
    out: dict[str, list[str]] = {}
    for p in sorted(paths, key=len):
        parts = Path(p).parts
        for i in range(1, len(parts)):
            folder = str(Path(*parts[:i]))
            if not os.stat(folder).st_mode & 0o001:
                below = out.setdefault(folder, [])
                if not any(Path(p).is_relative_to(b) for b in below):
                    below.append(p)
                break
    return out


def _folders(path: str) -> None:
    """`path` and the folders above it, made open to all (the view's own: a uid of the sandbox
    must pass through them, whatever the umask), where they are not there yet."""
    old = os.umask(0o022)
    try:
        os.makedirs(path, 0o755, exist_ok=True)
    finally:
        os.umask(old)


def _tmpfs(at: str, opts: str) -> None:
    _check(_libc.mount(b"tmpfs", at.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, opts.encode()), f"mount tmpfs on {at}")


def _view(plan: Plan, at: str) -> None:
    """In our own mount namespace: the whole file tree becomes a fresh tmpfs (mounted on `at`, the
    working directory, then made the root) that holds only `plan.shown`, bind-mounted from where
    they are, the symbolic links on the way to them, and an empty folder where `at` was. The old
    tree is then let go of: nothing else of the host's can be named, and so no socket of it."""
    if SYS_PIVOT_ROOT is None:
        raise OSError(38, f"pivot_root's number on {platform.machine()} is not known")
    _tmpfs(at, "size=1m,mode=0755")
    for path in plan.shown:
        target = at + path
        if os.path.isdir(path):
            _folders(target)
        else:
            _folders(os.path.dirname(target))
            os.close(os.open(target, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))
        _check(_libc.mount(path.encode(), target.encode(), None, MS_BIND | MS_REC, None), f"bind mount {path}")
    for link, says in plan.links:
        if not os.path.lexists(at + link):
            _folders(os.path.dirname(at + link))
            os.symlink(says, at + link)
    for shared in SHARED_IN_DEV:
        if os.path.isdir(at + shared) and not os.path.islink(at + shared):
            _tmpfs(at + shared, "size=1m,mode=0755")
    _folders(at + at)
    os.chdir(at)
    _check(_libc.syscall(SYS_PIVOT_ROOT, b".", b"."), "pivot_root")  # the old root now sits on top
    _check(_libc.umount2(b".", MNT_DETACH), "umount the host's file tree")
    os.chdir("/")


def _namespaces(workdir: str, disk_mib: int, uid: int, owner: int | None, plan: Plan) -> None:
    """New network, IPC and mount namespaces; the file tree becomes the view (`_view`), and the
    working directory a fresh tmpfs."""
    flags = CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWNS
    if os.getuid() == 0:
        _check(_libc.unshare(flags), "unshare")
    else:
        gid = os.getgid()
        _check(_libc.unshare(CLONE_NEWUSER | flags), "unshare")
        # map our own ids to themselves, so files keep their owner and can still be created
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"{uid} {uid} 1")
        _write("/proc/self/gid_map", f"{gid} {gid} 1")
    _check(_libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /")
    _view(plan, workdir)
    opts = f"size={disk_mib}m,mode=0700" + (f",uid={owner},gid={owner}" if owner is not None else "")
    _tmpfs(workdir, opts)
    os.chdir(workdir)


def _become(uid: int) -> int:
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    return uid


def _can_read_as(uid: int, paths: list[str], view: Plan | None) -> bool:
    """Whether a child confined as `uid` may open each of `paths` (tried in a fork), in `view`'s
    file tree if given (`_view`), else in the host's."""
    at = tempfile.mkdtemp(prefix="course-kit-view-")
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            if view is not None:
                _check(_libc.unshare(CLONE_NEWNS), "unshare")
                _check(_libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /")
                _view(view, at)
            _become(uid)
            for p in paths:
                os.close(os.open(p, os.O_RDONLY))
            code = 0
        finally:
            os._exit(code)
    try:
        return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
    finally:
        os.rmdir(at)


@dataclass(frozen=True)
class Plan:
    """Worked out once in the pool server, applied in every child."""

    readable: list[str]  # what a submission may read
    closed: dict[str, list[str]]  # folders closed to others -> readable paths below them
    first_uid: int | None  # slot 0's uid: the grader runs as root and such a uid can read Python
    lock_fd: int | None = None  # holds the uid block for the pool server's lifetime
    # the view (`_view`): the folders its file tree holds (those readable and the denied ones,
    # which Landlock refuses), and the symbolic links on the way to them
    shown: tuple[str, ...] = ()
    links: tuple[tuple[str, str], ...] = ()


def _owns_nothing(uids: range) -> bool:
    """No account has any of `uids` (files are another matter: none should, in this range)."""
    for uid in uids:
        try:
            pwd.getpwuid(uid)
            return False
        except KeyError:
            continue
    return True


def uid_block() -> tuple[int, int] | None:
    """A block of SLOTS uids no other pool on this host holds (an flock on a file per block, let go
    when the pool server ends, however it ends): (its first uid, the lock's fd), or None."""
    folder = Path(tempfile.gettempdir()) / "course-kit-uids"
    folder.mkdir(mode=0o700, exist_ok=True)
    if folder.stat().st_uid != 0 or folder.stat().st_mode & 0o077:
        return None  # someone else's folder: its locks prove nothing
    for block in range(BLOCKS):
        first = FIRST_UID + block * SLOTS
        fd = os.open(folder / f"{first}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        if _owns_nothing(range(first, first + SLOTS)):
            return first, fd
        os.close(fd)
    return None


def plan(denied: list[Path], probe: list[str]) -> Plan:
    """`probe`: files a child must be able to read (Python's os.py, torch's __init__.py)."""
    readable, roots = readable_paths(denied), _roots(denied)
    # the roots whole, denied folders in them too (Landlock refuses those): fewer bind mounts than
    # the siblings Landlock's rules are cut into (a kit installed in site-packages: every package)
    shown = outermost([str(Path(p).resolve()) for p in [*roots, *denied] if os.path.exists(p)])
    links = [
        (at, says)
        for at, says in links_on_the_way([*roots, sys.executable, *shown])
        if not any(Path(at).is_relative_to(s) for s in shown)  # those come with their folder's bind mount
    ]
    view = Plan(readable, closed_ancestors(readable), None, None, tuple(shown), tuple(links))
    block = uid_block() if os.getuid() == 0 else None
    if block is None:
        return view
    first, fd = block
    if _can_read_as(first, probe, None) or bool(view.closed) and _can_read_as(first, probe, view):
        return dataclasses.replace(view, first_uid=first, lock_fd=fd)
    os.close(fd)
    return view


def let_go(plan: Plan) -> None:
    """In a sandbox parent: close our copy of the block's lock, so no student code can unlock it."""
    if plan.lock_fd is not None:
        os.close(plan.lock_fd)


def uid_for(plan: Plan, slot: int, without: frozenset[str] = frozenset()) -> int | None:
    """The uid slot `slot` runs as, or None where the grader cannot switch users. Without "slots"
    (COURSE_SANDBOX_WITHOUT=slots) every slot shares one, as `nobody` once was shared."""
    if plan.first_uid is None or "user" in without:
        return None
    return plan.first_uid + (0 if "slots" in without else slot % SLOTS)


PR_CAPBSET_DROP, PR_SET_SECUREBITS, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 24, 28, 47, 4
# SECBIT_NOROOT, NO_SETUID_FIXUP and KEEP_CAPS off, each locked: root can never regain a capability
SECUREBITS_LOCKED_NOROOT = 0b101111
LINUX_CAPABILITY_VERSION_3 = 0x20080522


def _drop_capabilities() -> None:
    _check(_libc.prctl(PR_SET_SECUREBITS, SECUREBITS_LOCKED_NOROOT, 0, 0, 0), "prctl(PR_SET_SECUREBITS)")
    cap = 0
    while _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0:
        cap += 1
    _libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = (ctypes.c_uint32 * 2)(LINUX_CAPABILITY_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()
    _check(_libc.capset(header, data), "capset")


def _drop_root(plan: Plan, namespaces: bool, slot_uid: int | None, shared: bool) -> str:
    if slot_uid is not None and (namespaces or not plan.closed):
        _become(slot_uid)
        # no uid or slot number: which slot a submission gets depends on the other workers, and
        # the report must be the same for any --workers
        whose = "one uid shared by every slot" if shared else "a uid of this submission's own"
        return f"{whose}, from a block of unprivileged uids; the grader runs as root"
    _drop_capabilities()
    return "uid 0 with every capability dropped (no other uid can read this Python installation)"


LAYERS = ("namespaces", "user", "landlock", "slots")


def confine(
    workdir: str,
    plan: Plan,
    writable: list[str],
    disk_mib: int,
    slot: int = 0,
    without: frozenset[str] = frozenset(),
) -> dict[str, str]:
    """Apply every layer the host allows, but those in `without`; return what is in force,
    layer by layer. A value starting with "none" means the layer is missing (and why)."""
    state: dict[str, str] = {}
    uid = os.getuid()
    slot_uid = uid_for(plan, slot, without) if uid == 0 else None
    off = OSError(0, "turned off by COURSE_SANDBOX_WITHOUT")
    try:
        if "namespaces" in without:
            raise off
        _namespaces(workdir, disk_mib, uid, slot_uid, plan)
        state["namespaces"] = (
            f"network, IPC and mount (of the host's files only the folders it may read and the course's;"
            f" working directory: a {disk_mib} MiB tmpfs)"
        )
    except OSError as e:
        state["namespaces"] = f"none ({e.strerror or e})"
    try:
        if uid == 0 and "user" in without:
            raise off
        has_ns = state["namespaces"].startswith("network")
        state["user"] = (
            _drop_root(plan, has_ns, slot_uid, "slots" in without)
            if uid == 0
            else f"uid {uid}, the grader's own (not root)"
        )
    except (OSError, KeyError) as e:
        state["user"] = f"none: still root ({e.strerror if isinstance(e, OSError) else e})"
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")
    abi = landlock_abi()
    try:
        if "landlock" in without:
            abi = 0
            raise off
        if not abi:
            raise OSError(0, "Landlock is not enabled in this kernel")
        landlock(abi)(plan.readable, [workdir, *writable])
        state["filesystem"] = (
            f"landlock ABI {abi}: reads limited to system and Python folders, writes to the working directory"
        )
        state["signals"] = "landlock: none to processes outside the sandbox" if abi >= 6 else "none (Landlock ABI < 6)"
    except OSError as e:
        state["filesystem"] = state["signals"] = f"none ({e.strerror or e})"
    has_net = state["namespaces"].startswith("network")
    tcp_blocked = abi >= 4 and not state["filesystem"].startswith("none")
    state["network"] = (
        "empty network namespace: nothing reachable"
        if has_net
        else "none (only TCP is blocked, by landlock)"
        if tcp_blocked
        else "none (the network is reachable)"
    )
    return state


def missing(state: dict[str, str]) -> list[str]:
    """The layers that are missing; strict mode refuses to grade unless this is empty."""
    return [k for k, v in state.items() if v.startswith("none")]
