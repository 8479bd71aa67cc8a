"""A real multi-node Ray cluster on loopback for the tests, made of `ray start` nodes it owns.

Each node is one `ray start --block` process started in a session of its own. Everything that node
runs (raylet, agents, every worker, whatever job it serves) stays in that session, so the
cluster finds a node's processes by session id, kills a node by SIGKILL of exactly those, and
stops only its own sessions at the end. Never `ray stop`: it ends every Ray process on the
machine, other people's clusters included.

Nodes listen on 127.0.0.2, not 127.0.0.1: Ray rewrites 127.0.0.1 and localhost to the machine's
outward address, while any other address of the loopback range is kept as given. The temporary
folder is a short one of its own (Unix socket paths are limited to 107 bytes), so
``address="auto"`` of another cluster on the machine never finds this one.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

HOST = "127.0.0.2"
STARTED = "Ray runtime started."
# Ray 2.60 turns token auth on for `ray start --head` whenever ~/.ray/auth_token exists (any local
# `ray.init()` on the machine writes one), yet not for the nodes that join, which then fail with
# InvalidAuthToken: say it for every node (and driver) so the machine's history does not matter.
# The GCS probes each raylet every 500 ms instead of 3 s, so a killed node is marked dead after
# ~6 s here instead of ~15 s; a slow but live raylet still has the default 10 s a probe to answer.
ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled", "RAY_health_check_period_ms": "500"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))  # free on every address: the GCS binds them all
        return s.getsockname()[1]


def _ray_cli() -> str:
    return shutil.which("ray") or str(Path(sys.executable).with_name("ray"))


def _live_session_of(pid: int) -> int | None:
    """The session of process `pid`; None once it is gone (a zombie counts as gone: it runs nothing
    and its parent, not we, may be the one to reap it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    state, _ppid, _pgrp, session = stat.rpartition(")")[2].split()[:4]  # the fields after the name
    return None if state in ("Z", "X") else int(session)


def _pids_in_session(session: int) -> list[int]:
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit() and _live_session_of(int(entry)) == session]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def _environ(pid: int) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    return dict(item.decode(errors="replace").partition("=")[::2] for item in raw.split(b"\0") if item)


def wait_until(condition: Callable[[], object], what: str, timeout: float = 60, every: float = 0.05) -> None:
    """Poll `condition` until it holds; TimeoutError naming `what` if it never does."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


@dataclass
class Node:
    """One `ray start --block` process and everything it started (its session)."""

    process: subprocess.Popen
    log: Path
    head: bool

    @property
    def session(self) -> int:
        return self.process.pid  # started with start_new_session: the session id is its pid

    def pids(self) -> list[int]:
        return _pids_in_session(self.session)

    @cached_property
    def raylet_pid(self) -> int:
        pids = [pid for pid in self.pids() if _cmdline(pid).split(" ")[0].endswith("/raylet")]
        if len(pids) != 1:
            raise RuntimeError(f"expected one raylet in session {self.session}, found {pids}")
        return pids[0]

    @cached_property
    def node_id(self) -> str:
        """Ray's id of this node (what ``ray.get_runtime_context().get_node_id()`` says in its tasks)."""
        flag = next(arg for arg in _cmdline(self.raylet_pid).split(" ") if arg.startswith("--node_id="))
        return flag.partition("=")[2]

    def workers(self) -> list[int]:
        """The raylet's children (its workers and agents): read from the raylet's threads, a few
        small files instead of every process on the machine, so a poll is quick."""
        try:
            lists = [path.read_text() for path in Path(f"/proc/{self.raylet_pid}/task").glob("*/children")]
        except OSError:
            return []  # the raylet is gone
        return [int(pid) for children in lists for pid in children.split()]

    def running(self, task: str) -> list[int]:
        """Workers of this node executing a task of function `task` now (Ray titles them ``ray::task``)."""
        return [pid for pid in self.workers() if _cmdline(pid) == f"ray::{task}"]

    def started(self) -> bool:
        return self.log.is_file() and STARTED in self.log.read_text(errors="replace")

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.is_file() else "(no log)"


@dataclass
class RayCluster:
    """A head node and any number of further nodes on loopback, one CPU each.

    >>> with RayCluster(nodes=2) as cluster:              # doctest: +SKIP
    ...     extra = cluster.add_node()
    ...     cluster.kill_node(extra)
    """

    nodes: int = 2
    port: int = field(default_factory=_free_port)
    members: list[Node] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.temp_dir = Path(tempfile.mkdtemp(prefix="ra-ray-"))
        self.env = {**os.environ, **ENV}

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    def __enter__(self) -> RayCluster:
        try:
            self._start_node(head=True)
            for _ in range(self.nodes - 1):
                self.add_node()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def add_node(self) -> Node:
        """Start one more node (one CPU) and return once it has registered with the head."""
        return self._start_node(head=False)

    def _start_node(self, *, head: bool) -> Node:
        if head:
            role = ["--head", f"--port={self.port}", "--include-dashboard=false"]
        else:
            role = [f"--address={self.address}"]
        args = [
            _ray_cli(),
            "start",
            "--block",
            *role,
            f"--node-ip-address={HOST}",
            "--num-cpus=1",
            "--disable-usage-stats",
            f"--temp-dir={self.temp_dir}",
        ]
        log = self.temp_dir / f"node-{len(self.members)}.log"
        with open(log, "wb") as out:
            process = subprocess.Popen(
                args,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                start_new_session=True,
            )
        node = Node(process, log, head)
        self.members.append(node)
        # `ray start` prints this once the node's raylet is registered with the GCS.
        wait_until(
            lambda: node.started() or process.poll() is not None,
            f"node {len(self.members) - 1} to start",
            timeout=120,
            every=0.1,
        )
        if process.poll() is not None:
            raise RuntimeError(f"`ray start` exited with {process.returncode}:\n{node.log_tail()}")
        return node

    def kill_node(self, node: Node) -> None:
        """SIGKILL the node's raylet, its workers and the rest of its processes at once, as if the
        machine died; returns when none is left."""
        if node.head:
            raise ValueError("killing the head ends the cluster; kill a worker node")
        self._kill_session(node)

    def processes(self) -> list[int]:
        """Every live process of this cluster, all nodes."""
        return [pid for node in self.members for pid in node.pids()]

    def job_processes(self, job_id: str) -> list[int]:
        """Workers (on any node) serving Ray job `job_id` (Ray sets ``RAY_JOB_ID`` in their environment)."""
        return [pid for pid in self.processes() if _environ(pid).get("RAY_JOB_ID") == job_id]

    def stop(self) -> None:
        """End this cluster's processes only: SIGTERM to each `ray start` (it stops its own node),
        SIGKILL of whatever is left in its sessions after a grace period."""
        for node in reversed(self.members):
            if node.process.poll() is None:
                node.process.send_signal(signal.SIGTERM)
        try:
            wait_until(lambda: not self.processes(), "the cluster to stop", timeout=20, every=0.1)
        except TimeoutError:
            pass
        for node in self.members:
            self._kill_session(node)
        shutil.rmtree(self.temp_dir, ignore_errors=True)

    def _kill_session(self, node: Node) -> None:
        def kill_all() -> bool:
            pids = node.pids()
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            node.process.poll()  # reap our child so it does not linger as a zombie of the session
            return not pids

        wait_until(kill_all, f"session {node.session} to be gone", timeout=30, every=0.05)
        node.process.wait()
