"""The renderer process: renders and checks templates under rlimits, for the process that started it.

Started by workflows.templating.isolation as ``python -m workflows.templating.child LIMITS_JSON``: a fresh
interpreter (no Django, no settings, no database connection, an environment without secrets), which imports
only the templating modules. It reads requests from stdin and writes replies to stdout, each a frame: 4 bytes
of length (big-endian), then the payload. A request is a pickle from the trusted parent; a reply is JSON, so
that nothing the template influenced is ever unpickled by the parent.

Limits: RLIMIT_AS is the address space at start plus TEMPLATE_MEMORY_LIMIT_MB (a MemoryError is answered,
then the process exits so that the next render starts clean); the soft RLIMIT_CPU is moved before each request
to the CPU time used so far plus TEMPLATE_CPU_SECONDS (over it, SIGXCPU kills the process); the parent kills it
after TEMPLATE_TIMEOUT_SECONDS of wall-clock time. No new file or process can be opened once it is ready.
"""

import contextlib
import json
import math
import os
import pickle
import resource
import sys
import time

# Everything the renderer needs is imported (and warmed up) before the limits are set.
from workflows.templating.checks import template_error
from workflows.templating.render import render_in_process
from workflows.templating.sandbox import TemplateRenderError, render_deadline, renderer_process

HEADER_BYTES = 4
_MEMORY_CHECK_EVERY = 50  # replies between two looks at the address space (reading /proc costs a render's time)


_STATM = open("/proc/self/statm", "rb", buffering=0)  # noqa: SIM115 - kept open: no file can be opened later
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _address_space() -> int:
    _STATM.seek(0)
    return int(_STATM.read().split()[0]) * _PAGE


def _warm_up() -> None:
    """Render and check once, errors included, so that whatever Jinja imports lazily is imported now."""
    context = {"input": {"n": 2}}
    for source in (
        "{{ input.n * 2 }}",
        "a {{ input.n }} {% for i in range(2) %}{{ i ~ 'x' }}{% endfor %}",
        "{{ input.missing }}",
        "{{ 1 / 0 }}",
        "{{ ''.__class__ }}",
        "{{ 'a'|center(10**9) }}",
    ):
        with contextlib.suppress(TemplateRenderError):
            render_in_process(source, context)
        template_error(source)
    template_error("{{ broken")


def _is_open(descriptor: int) -> bool:
    try:
        os.fstat(descriptor)
    except OSError:
        return False
    return True


def _read_exactly(stream, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


class Renderer:
    """The request loop of one renderer process."""

    def __init__(self, config: dict):
        self.memory_mb = int(config["memory_mb"])
        self.cpu_seconds = int(config["cpu_seconds"])
        self.max_reply_bytes = int(config["max_reply_bytes"])
        render_deadline.seconds = float(config["timeout_seconds"])
        renderer_process.active = True
        self.restart = False
        self.cpu_soft = 0
        self.cpu_hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
        self.replies = 0

    def limit_resources(self) -> None:
        self.baseline = _address_space()
        memory = self.baseline + self.memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        # No file, socket or process can be opened from here on: a new descriptor takes the lowest free number,
        # and the limit is that number (the pipes, stderr and /proc/self/statm stay open below it).
        lowest_free = 0
        while _is_open(lowest_free):
            lowest_free += 1
        resource.setrlimit(resource.RLIMIT_NOFILE, (lowest_free, lowest_free))
        resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))

    def _cpu_budget(self) -> None:
        """Give the next request at least cpu_seconds (at most one more: RLIMIT_CPU counts whole seconds)."""
        used = time.process_time()
        if self.cpu_soft - used >= self.cpu_seconds:
            return  # the limit set for an earlier request still leaves the whole budget (no system call)
        self.cpu_soft = math.ceil(used) + self.cpu_seconds
        if self.cpu_hard != resource.RLIM_INFINITY:
            self.cpu_soft = min(self.cpu_soft, self.cpu_hard)
        resource.setrlimit(resource.RLIMIT_CPU, (self.cpu_soft, self.cpu_hard))

    def memory_message(self, path: str = "") -> str:
        where = f"{path}: " if path else ""
        return f"{where}template exceeded the memory limit ({self.memory_mb} MiB)"

    def handle(self, request: dict) -> dict:
        operation = request["op"]
        if operation == "ping":
            return {"ok": True}
        if operation == "render":
            return self.render(request["value"], request["context"], request.get("path", ""))
        if operation == "chain":
            return {"ok": self.chain(request["items"], request["context"])}
        if operation == "check":
            found = []
            for source in request["sources"]:
                try:
                    found.append(template_error(source))
                except MemoryError:
                    self.restart = True
                    found.append(self.memory_message())
                except RecursionError:
                    found.append("the template is nested too deeply")
            return {"ok": found}
        return {"error": f"unknown request {operation!r}"}

    def render(self, value, context: dict, path: str) -> dict:
        try:
            return {"ok": render_in_process(value, context, path=path)}
        except TemplateRenderError as exc:
            return {"error": str(exc)}
        except MemoryError:
            self.restart = True
            return {"error": self.memory_message(path)}
        except RecursionError:
            where = f"{path}: " if path else ""
            return {"error": f"{where}template recursed too deeply"}

    def chain(self, items: list[dict], context: dict) -> list:
        """Render items in order, each seeing ``steps.<bind>.output`` of the items before it (the value of their
        rendered ``key``), as the runner's context would; stops at the first error (the runner renders that item
        again on its own, and gets the error there)."""
        steps = dict(context.get("steps", {}))
        context = {**context, "steps": steps}
        rendered = []
        for item in items:
            reply = self.render(item["value"], context, item["path"])
            if "ok" not in reply:
                break
            value = reply["ok"]
            rendered.append(value)
            if item.get("bind"):
                steps[item["bind"]] = {"output": value.get(item["key"]) if isinstance(value, dict) else None}
        return rendered

    def reply(self, request_bytes: bytes) -> bytes:
        try:
            self._cpu_budget()
            reply = self.handle(pickle.loads(request_bytes))  # noqa: S301 (from the parent that started us)  # nosec B301
            data = json.dumps(reply, ensure_ascii=False, allow_nan=False).encode()
        except MemoryError:
            self.restart = True
            reply, data = {"error": self.memory_message()}, b""
        except Exception as exc:  # a bug here must not leave the parent waiting for a reply
            reply, data = {"error": f"template renderer error ({type(exc).__name__})"}, b""
        if len(data) > self.max_reply_bytes:
            reply, data = {"error": f"rendered value is larger than {self.max_reply_bytes // 2**20} MiB"}, b""
        self.replies += 1
        if self.replies % _MEMORY_CHECK_EVERY == 0 and _address_space() > self.baseline + self.memory_mb * 2**20 // 2:
            self.restart = True  # memory kept by caches or fragmentation: the next render starts afresh
        if self.restart:
            reply["restart"] = True
            data = b""
        return data or json.dumps(reply, ensure_ascii=False).encode()

    def serve(self, stdin, stdout) -> None:
        ready = json.dumps({"ready": True}).encode()
        stdout.write(len(ready).to_bytes(HEADER_BYTES, "big") + ready)
        stdout.flush()
        while not self.restart:
            header = _read_exactly(stdin, HEADER_BYTES)
            if header is None:
                return  # the parent closed the pipe (or died)
            request = _read_exactly(stdin, int.from_bytes(header, "big"))
            if request is None:
                return
            data = self.reply(request)
            stdout.write(len(data).to_bytes(HEADER_BYTES, "big") + data)
            stdout.flush()


def main() -> None:
    renderer = Renderer(json.loads(sys.argv[1]))
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print must not corrupt the replies
    _warm_up()
    renderer.limit_resources()
    renderer.serve(stdin, stdout)


if __name__ == "__main__":
    main()
