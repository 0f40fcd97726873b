"""Every process a run starts ends with the run, however it tried to get away.

A job (or an adaptor) can start children that leave the run's process group (`detached: true`,
`setsid`) and whose parent exits at once: killing the group misses them, and an orphan would
normally be adopted by init and live on. So the runtime makes itself a child subreaper: such
orphans are adopted by the runtime instead, where it can find them. Each engine process (a
core run, a warm worker) carries a tag in its environment (RUN_TAG_VARIABLE), which its
descendants inherit. When a run ends, `end_run_processes` kills the run's live descendants
and every adopted orphan carrying its tag (or no tag at all: a job can clear its children's
environment, and nothing else the runtime starts is adopted while runs go on), again until
none is left (they may fork meanwhile), and reaps the orphans it killed. `end_all` does the
same for everything below the runtime when it exits.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import uuid
from pathlib import Path
from typing import NamedTuple

PR_SET_CHILD_SUBREAPER = 36
RUN_TAG_VARIABLE = "OSC_RUN_TAG"
KILL_ROUNDS = 10
PROC = Path("/proc")

# The engine processes the runtime started and waits for itself (asyncio reaps them).
roots: set[int] = set()


def become_subreaper() -> bool:
    """Adopt the orphans of every descendant (Linux); False where that is not possible."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def new_tag() -> str:
    return uuid.uuid4().hex


def end_run_processes(root: int | None, tag: str) -> int:
    """Kill what remains of the run under `root` (alive or not) and its tagged orphans;
    return how many processes were killed. Scans /proc (a few ms): call it off the event loop."""
    killed = 0
    for _ in range(KILL_ROUNDS):
        table = _scan()
        victims = _descendants(root, table.parents) if root is not None else set()
        for orphan in _adopted(table):
            if _tag_of(orphan) in (tag, None):
                victims |= {orphan} | _descendants(orphan, table.parents)
        victims -= table.dead | set(roots) | {os.getpid()}
        if not victims:
            break
        killed += sum(_kill(pid) for pid in victims)
    _reap(table if not killed else _scan())
    return killed


def end_all() -> int:
    """Kill every process below the runtime (at exit, after the engines were closed)."""
    killed = 0
    for _ in range(KILL_ROUNDS):
        table = _scan()
        victims = _descendants(os.getpid(), table.parents) - table.dead
        if not victims:
            break
        killed += sum(_kill(pid) for pid in victims)
    _reap(_scan())
    return killed


class ProcessTable(NamedTuple):
    parents: dict[int, int]  # pid -> parent pid, of every process visible in /proc
    dead: set[int]  # zombies among them: not to be killed, but reaped if they are ours


def _reap(table: ProcessTable) -> None:
    """Collect the exit of adopted orphans (not the engine processes asyncio waits for)."""
    for pid in _adopted(table):
        if pid in table.dead:
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, os.WNOHANG)


def _scan() -> ProcessTable:
    table = ProcessTable({}, set())
    for name in os.listdir(PROC):
        if not name.isdigit():
            continue
        try:
            with open(f"{PROC}/{name}/stat", "rb") as file:
                stat = file.read()
        except OSError:  # ended meanwhile
            continue
        fields = stat[stat.rindex(b")") + 2 :].split(None, 2)
        table.parents[int(name)] = int(fields[1])
        if fields[0] in (b"Z", b"X"):
            table.dead.add(int(name))
    return table


def _descendants(root: int, parents: dict[int, int]) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid, parent in parents.items():
        children.setdefault(parent, []).append(pid)
    found, todo = set(), list(children.get(root, ()))
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, ()))
    return found


def _adopted(table: ProcessTable) -> list[int]:
    """The runtime's own children that it did not start itself: adopted orphans."""
    me, started = os.getpid(), set(roots)  # a copy: the event loop adds to it meanwhile
    return [pid for pid, parent in table.parents.items() if parent == me and pid not in started]


def _tag_of(pid: int) -> str | None:
    try:
        environment = (PROC / str(pid) / "environ").read_bytes()
    except OSError:
        return None
    prefix = f"{RUN_TAG_VARIABLE}=".encode()
    for entry in environment.split(b"\0"):
        if entry.startswith(prefix):
            return entry[len(prefix) :].decode(errors="replace")
    return None


def _kill(pid: int) -> bool:
    try:
        os.kill(pid, signal.SIGKILL)
        return True
    except (ProcessLookupError, PermissionError):
        return False
