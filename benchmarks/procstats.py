"""What a server under test costs, as the kernel counts it: CPU time and memory, read from /proc (Linux).

Every server a benchmark starts runs in a session of its own (``start_new_session``): nginx's master
and its workers, or the gateway's supervisor, its workers and multiprocessing's resource tracker. The
session id finds them all without knowing how the server forks. CPU time is summed over the session's
live processes together with the children they have reaped (``cutime``/``cstime``), so a worker that
exits or is replaced during a run still counts.
"""

from __future__ import annotations

import os

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
HELPERS = (b"multiprocessing.resource_tracker",)  # processes of a server session that serve no request

# Fields of /proc/<pid>/stat after the command name, counted from 0 (field 3 of proc(5) is index 0).
SESSION, UTIME, STIME, CUTIME, CSTIME = 3, 11, 12, 13, 14


def stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after ``(comm)``, or None for a process that is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as stat:
            return stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def session_pids(leader: int) -> list[int]:
    """Every live process in the session ``leader`` started (a server and its workers)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = stat_fields(int(entry))
            if fields is not None and int(fields[SESSION]) == leader:
                pids.append(int(entry))
    return pids


def cpu_seconds(leader: int) -> float:
    """User plus system CPU time of the session so far, reaped children included, in seconds."""
    ticks = 0
    for pid in session_pids(leader):
        fields = stat_fields(pid)
        if fields is not None:
            ticks += sum(int(fields[index]) for index in (UTIME, STIME, CUTIME, CSTIME))
    return ticks / CLOCK_TICKS


def command_line(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            return cmdline.read()
    except OSError:
        return b""


def worker_pids(leader: int) -> list[int]:
    """The processes of the session that serve requests.

    nginx's workers or the gateway's, not the master or supervisor (which only
    waits) nor a helper; a server without workers serves from its leader.
    """
    others = [
        pid
        for pid in session_pids(leader)
        if pid != leader and not any(helper in command_line(pid) for helper in HELPERS)
    ]
    return sorted(others) or [leader]


def rss_bytes(pid: int) -> int:
    """Resident memory of one process (VmRSS), 0 for a process that is gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024  # the kernel writes kB
    except OSError:
        pass
    return 0


def worker_rss(leader: int) -> list[int]:
    """Resident memory of each worker of the session, in bytes."""
    return [rss_bytes(pid) for pid in worker_pids(leader)]
