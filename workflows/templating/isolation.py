"""Templates are rendered and checked in renderer processes, never in the process that asks (web or worker).

Each process keeps a small pool of renderer processes (workflows.templating.child), started on first use and
reused across renders: a render costs one round trip over a pipe, not a process start. A renderer that breaks
a limit dies (RLIMIT_CPU), exits (a MemoryError under RLIMIT_AS) or is killed here (wall clock), and the next
render starts a new one. Limits come from the settings TEMPLATE_MEMORY_LIMIT_MB, TEMPLATE_CPU_SECONDS and
TEMPLATE_TIMEOUT_SECONDS; TEMPLATE_RENDERER_PROCESSES bounds the pool of each process.
"""

import contextlib
import fcntl
import json
import logging
import os
import pickle
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from workflows.templating.sandbox import TemplateRenderError

logger = logging.getLogger("aiassistant.workflows")

ROOT = Path(__file__).resolve().parents[2]
HEADER_BYTES = 4
MAX_REPLY_BYTES = 8 * 1024 * 1024
# The parent waits this much longer than the renderer's own deadline before killing it: the renderer's
# cooperative check gives the clearer message when it can.
_KILL_GRACE_SECONDS = 1.0
_POLL_SECONDS = 0.25
_START_SECONDS = 60.0
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)  # Linux
_PIPE_BYTES = 1024 * 1024  # the default /proc/sys/fs/pipe-max-size


class RendererUnavailable(Exception):
    """No renderer process could be started (an operational fault, not the template's)."""


def _limits() -> dict:
    from django.conf import settings

    return {
        "memory_mb": int(settings.TEMPLATE_MEMORY_LIMIT_MB),
        "cpu_seconds": max(1, int(settings.TEMPLATE_CPU_SECONDS)),
        "timeout_seconds": float(settings.TEMPLATE_TIMEOUT_SECONDS),
        "max_reply_bytes": MAX_REPLY_BYTES,
    }


def _child_environment() -> dict:
    # Reads os.environ itself (config/env.py says why): only what Python needs is handed on, since the parent's
    # environment holds secrets (database URL, API keys, Vault token).
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT)}
    for name in ("LANG", "LC_ALL", "PYTHONDONTWRITEBYTECODE"):
        if name in os.environ:
            env[name] = os.environ[name]
    return env


class _Renderer:
    """One renderer process and its pipes; used by one thread at a time."""

    def __init__(self, limits: dict, on_wait=None):
        self.limits = limits
        try:
            self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module, no shell
                [sys.executable, "-m", "workflows.templating.child", json.dumps(limits)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                cwd=ROOT,
                env=_child_environment(),
                close_fds=True,
            )
        except OSError as exc:
            raise RendererUnavailable(f"the template renderer could not be started ({exc.strerror})") from None
        self.stdin, self.stdout = self.proc.stdin.fileno(), self.proc.stdout.fileno()  # type: ignore[union-attr]
        os.set_blocking(self.stdin, False)
        for fd in (self.stdin, self.stdout):
            with contextlib.suppress(OSError):  # bigger pipes: a large context goes in one write, not several
                fcntl.fcntl(fd, _F_SETPIPE_SZ, _PIPE_BYTES)
        self.killed_for_time = False
        # The renderer says when it is ready (imports done, limits set): its start never counts against a render.
        try:
            json.loads(self._receive(time.monotonic() + _START_SECONDS, on_wait))
        except (TimeoutError, EOFError, ValueError):
            self.kill()
            why = f"not ready within {_START_SECONDS:g} s" if self.killed_for_time else f"exit {self.proc.returncode}"
            raise RendererUnavailable(f"the template renderer did not start ({why})") from None

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                stream.close()  # type: ignore[union-attr]

    def _wait(self, fd: int, *, write: bool, deadline: float, on_wait) -> None:
        while True:
            now = time.monotonic()
            if now >= deadline:
                self.killed_for_time = True
                raise TimeoutError
            ready = select.select([] if write else [fd], [fd] if write else [], [], min(_POLL_SECONDS, deadline - now))
            if ready[0] or ready[1]:
                return
            if on_wait is not None:
                on_wait()

    def _send(self, data: bytes, deadline: float, on_wait) -> None:
        view = memoryview(len(data).to_bytes(HEADER_BYTES, "big") + data)
        while view:
            try:
                written = os.write(self.stdin, view)  # usually all at once: no select first
            except BlockingIOError:
                self._wait(self.stdin, write=True, deadline=deadline, on_wait=on_wait)
                continue
            view = view[written:]

    def _receive(self, deadline: float, on_wait) -> bytes:
        """One reply frame (usually one read: the renderer writes header and payload together)."""
        buffer = bytearray()
        size = None
        while size is None or len(buffer) < HEADER_BYTES + size:
            self._wait(self.stdout, write=False, deadline=deadline, on_wait=on_wait)
            chunk = os.read(self.stdout, 1024 * 1024 if size is None else HEADER_BYTES + size - len(buffer))
            if not chunk:
                raise EOFError
            buffer += chunk
            if size is None and len(buffer) >= HEADER_BYTES:
                size = int.from_bytes(buffer[:HEADER_BYTES], "big")
                if size > MAX_REPLY_BYTES + 1024:
                    raise EOFError
        return bytes(buffer[HEADER_BYTES:])

    def request(self, payload: dict, on_wait) -> dict:
        """Send one request and read its reply; raises TimeoutError, EOFError or BrokenPipeError."""
        deadline = time.monotonic() + self.limits["timeout_seconds"] + _KILL_GRACE_SECONDS
        self._send(pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL), deadline, on_wait)
        return json.loads(self._receive(deadline, on_wait))

    def failure(self) -> str:
        """Why the renderer stopped, as the one-line error of the render it was doing."""
        if self.killed_for_time:
            return f"template took longer than {self.limits['timeout_seconds']:g} seconds to render"
        code = self.proc.returncode
        if code == -signal.SIGXCPU:
            return f"template exceeded the CPU time limit ({self.limits['cpu_seconds']} s)"
        if code is not None and code < 0 and -code in (signal.SIGKILL, signal.SIGSEGV, signal.SIGABRT):
            return f"template exceeded the memory limit ({self.limits['memory_mb']} MiB)"
        return f"the template renderer stopped unexpectedly (exit status {code})"


class RendererPool:
    """At most ``size`` renderer processes of this process, each lent to one thread at a time."""

    def __init__(self, size: int, limits: dict):
        self.size = max(1, size)
        self.limits = limits
        self.pid = os.getpid()
        self.idle: list[_Renderer] = []
        self.count = 0
        self.available = threading.Condition()

    def _acquire(self, on_wait=None) -> _Renderer:
        with self.available:
            while True:
                while not self.idle and self.count >= self.size:
                    self.available.wait()
                if not self.idle:
                    break
                renderer = self.idle.pop()
                if renderer.alive():
                    return renderer
                renderer.kill()  # died while idle (killed from outside): start another
                self.count -= 1
            self.count += 1
        try:
            return _Renderer(self.limits, on_wait)
        except BaseException:
            with self.available:
                self.count -= 1
                self.available.notify()
            raise

    def _release(self, renderer: _Renderer, *, keep: bool) -> None:
        if not keep:
            renderer.kill()
        with self.available:
            if keep:
                self.idle.append(renderer)
            else:
                self.count -= 1
            self.available.notify()

    def request(self, payload: dict, *, on_wait: Callable[[], object] | None = None) -> dict:
        """One request to a renderer; a renderer that died or timed out becomes a TemplateRenderError."""
        renderer = self._acquire(on_wait)
        keep = False
        try:
            try:
                reply = renderer.request(payload, on_wait)
            except (TimeoutError, EOFError, BrokenPipeError, ConnectionResetError):
                renderer.kill()
                message = renderer.failure()
                logger.warning("template renderer %s: %s", renderer.proc.pid, message)
                return {"error": message}
            keep = not reply.pop("restart", False)
            return reply
        finally:
            # Also when on_wait raised: the reply that was not read must not be taken for the next one's. (A
            # renderer that died after answering is found out when it is next acquired.)
            self._release(renderer, keep=keep)

    def pids(self) -> list[int]:
        """The idle renderers' process ids (for tests and diagnostics)."""
        with self.available:
            return [renderer.proc.pid for renderer in self.idle]

    def close(self) -> None:
        with self.available:
            idle, self.idle = self.idle, []
            self.count -= len(idle)
        for renderer in idle:
            renderer.kill()


_pool: RendererPool | None = None
_pool_lock = threading.Lock()


def pool() -> RendererPool:
    """This process's pool (a forked process makes its own: the parent's renderers are not its children)."""
    global _pool
    with _pool_lock:
        if _pool is None or _pool.pid != os.getpid():
            from django.conf import settings

            _pool = RendererPool(int(settings.TEMPLATE_RENDERER_PROCESSES), _limits())
        return _pool


def reset() -> None:
    """Stop this process's renderers; the next render starts new ones (with the settings of that moment)."""
    global _pool
    with _pool_lock:
        old, _pool = _pool, None
    if old is not None and old.pid == os.getpid():
        old.close()


def _reply(reply: dict):
    if "error" in reply:
        raise TemplateRenderError(reply["error"])
    return reply["ok"]


def render(value, context: dict, *, path: str = "", on_wait: Callable[[], object] | None = None):
    """Render ``value`` against ``context`` in a renderer process; raises TemplateRenderError."""
    request = {"op": "render", "value": value, "context": context, "path": path}
    return _reply(pool().request(request, on_wait=on_wait))


def render_chain(items: list[dict], context: dict, *, on_wait: Callable[[], object] | None = None) -> list:
    """Several renders in one round trip: ``items`` are ``{"value", "path", "bind", "key"}``; an item with a
    ``bind`` makes its rendered ``key`` that step's ``steps.<bind>.output`` for the items after it.

    Returns the rendered values of the items before the first that failed (none when the renderer failed): a
    cache for the caller, which renders what is missing with ``render`` and gets each error there, under each
    render's own limits.
    """
    return pool().request({"op": "chain", "items": items, "context": context}, on_wait=on_wait).get("ok", [])


def check(sources: list[str]) -> list[str | None]:
    """For each template source, why it cannot be saved (syntax, a constant part over a limit) or None."""
    if not sources:
        return []
    reply = pool().request({"op": "check", "sources": sources})
    if "error" in reply:
        return [reply["error"]] * len(sources)
    return reply["ok"]
