"""Shared benchmark harness: a PostgreSQL database, gunicorn on it, and wrk against it (all on loopback)."""

import base64
import json
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def base_env(database: str, **extra) -> dict:
    """Production settings on a local PostgreSQL database, with limits that do not get in the way of load."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        SECRET_KEY=secrets.token_urlsafe(50),
        JWT_SIGNING_KEY=secrets.token_urlsafe(50),
        AUDIT_HMAC_KEY=secrets.token_urlsafe(50),
        SECRETS_ENCRYPTION_KEY=base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        DATABASE_URL=f"{PG}/{database}",
        REDIS_URL=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/8"),
        CELERY_BROKER_URL=os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/7"),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="false",
        THROTTLE_ANON="100000000/minute",
        THROTTLE_USER="100000000/minute",
        THROTTLE_AUTH="100000000/minute",
        # Quotas unlimited too: the daily execution quota (1,000 by default) would answer 429 within a run.
        QUOTA_EXECUTIONS_PER_DAY="0",
        QUOTA_LLM_TOKENS_PER_DAY="0",
        # An access token lives 5 minutes by default; a run with --ablation lasts longer (it answered 401s).
        JWT_ACCESS_TTL="7200",
        LOG_LEVEL="WARNING",
    )
    env.update(extra)
    return env


def manage(env: dict, *args: str, stdin: str | None = None) -> str:
    result = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, input=stdin, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed: {result.stderr.strip()[-2000:]}")
    return result.stdout


def recreate_database(name: str) -> None:
    for sql in (f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'):
        subprocess.run(["psql", f"{PG}/postgres", "-qc", sql], check=True, capture_output=True)


def drop_database(name: str) -> None:
    subprocess.run(
        ["psql", f"{PG}/postgres", "-qc", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'],
        check=False,
        capture_output=True,
    )


# The workflow bench/executions.py and bench/runner_in_process.py run: three transform steps and a rendered output.
TRANSFORM_WORKFLOW = {
    "steps": [
        {"id": "greet", "type": "transform", "config": {"value": {"message": "Hello {{ input.name }}"}}},
        {
            "id": "shout",
            "type": "transform",
            "depends_on": ["greet"],
            "config": {"value": "{{ steps.greet.output.message | upper }}"},
        },
        {
            "id": "count",
            "type": "transform",
            "depends_on": ["shout"],
            "config": {"value": "{{ steps.shout.output | length }}"},
        },
    ],
    "output": {"greeting": "{{ steps.shout.output }}", "length": "{{ steps.count.output }}"},
}

SEED = """
from accounts.models import User
from projects.services import project_create
user = User.objects.create_user(email="bench@example.com", password="{password}")
for n in range(20):
    project_create(name=f"Bench project {{n}}", description="benchmark", actor=user)
"""


def seed_user_with_projects(env: dict, password: str) -> None:
    manage(env, "shell", "-c", SEED.format(password=password))


@contextmanager
def gunicorn(env: dict, workers: int = 2):
    port = free_port()
    env = dict(env, GUNICORN_BIND=f"127.0.0.1:{port}", GUNICORN_WORKERS=str(workers))
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            [str(Path(PYTHON).with_name("gunicorn")), "-c", "config/gunicorn.conf.py", "config.wsgi"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 90  # a loaded shared machine boots workers slowly
            while True:
                try:
                    urllib.request.urlopen(f"{base}/api/v1/schema/", timeout=2)  # loopback only
                    break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        log.seek(0)
                        raise SystemExit(f"gunicorn did not start:\n{log.read().decode()[-3000:]}") from None
                    time.sleep(0.3)
            yield base
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)


class Worker:
    """One `celery -A config worker` (prefork, its own queue and process group), ready when this returns."""

    def __init__(self, env: dict, queue: str, concurrency: int):
        self.log = tempfile.NamedTemporaryFile(prefix="bench-worker-", suffix=".log", delete=False)  # noqa: SIM115
        celery = str(Path(PYTHON).with_name("celery"))
        args = [celery, "-A", "config", "worker", "--pool=prefork", "-c", str(concurrency), "-Q", queue]
        args += ["-I", "executions", "--without-gossip", "--without-mingle", "--loglevel=INFO", "-n", f"{queue}@%h"]
        # INFO for the worker's "ready." line; the runner logs one line per execution at INFO too.
        worker_env = dict(env, PYTHONPATH=f"{ROOT / 'bench'}{os.pathsep}{ROOT}", LOG_LEVEL="INFO")
        self.proc = subprocess.Popen(
            args, cwd=ROOT, env=worker_env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + 60
        while " ready." not in Path(self.log.name).read_text(errors="replace"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                log = Path(self.log.name).read_text()[-3000:]
                self.stop()
                raise SystemExit(f"worker did not start:\n{log}")
            time.sleep(0.2)

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        if os.environ.get("BENCH_KEEP_LOG"):
            print(f"worker log: {self.log.name}")
        else:
            os.unlink(self.log.name)


def login(base: str, email: str, password: str) -> str:
    request = urllib.request.Request(
        f"{base}/api/v1/auth/login/",
        method="POST",
        data=json.dumps({"email": email, "password": password}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # loopback only
        return json.load(response)["access_token"]


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(number) * _UNITS[unit]


def wrk(
    url: str,
    *,
    duration: int = 10,
    connections: int = 16,
    threads: int = 2,
    headers: dict | None = None,
    method: str = "GET",
    body: str | None = None,
    script: str | None = None,
) -> dict:
    """Run wrk and return requests/s, p50/p99 latency (ms) and non-2xx counts. `script` is a Lua script of one's
    own (for example a `request` function that changes the body on every request), used instead of method/body."""
    args = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency"]
    for name, value in (headers or {}).items():
        args += ["-H", f"{name}: {value}"]
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as lua:
        if script is None and method != "GET":
            script = f'wrk.method = "{method}"\nwrk.body = {json.dumps(body or "")}\n'
        if script is not None:
            lua.write(script)
            lua.flush()
            args += ["-s", lua.name]
        output = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "requests_per_second": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50_ms": _ms(re.search(r"\s50%\s+(\S+)", output).group(1)),
        "p99_ms": _ms(re.search(r"\s99%\s+(\S+)", output).group(1)),
        "non_2xx": int(errors.group(1)) if errors else 0,
    }


def gunicorn_processes(base: str) -> list[psutil.Process]:
    """The master and workers of the gunicorn bound to `base` (found by their GUNICORN_BIND)."""
    bind = base.removeprefix("http://")
    found = []
    for process in psutil.process_iter(["cmdline"]):
        try:
            if "gunicorn" in " ".join(process.info["cmdline"] or []) and process.environ().get("GUNICORN_BIND") == bind:
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def cpu_seconds(processes: list[psutil.Process], *, children: bool = False) -> float:
    """User plus system CPU seconds of these processes so far (a process that has exited counts as 0), with
    `children` also that of their exited children."""
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
        if children:
            total += times.children_user + times.children_system
    return total


def service_cpu_seconds() -> dict[str, float]:
    """CPU seconds so far of every PostgreSQL server process and of Redis, by group: a request or a task costs their
    CPU too, on the same cores. Scanned anew each time, with the time of exited children (a backend whose
    connection closed is in its postmaster's), so the difference of two calls counts processes that started or
    ended in between."""
    names = {"postgres": "postgres", "redis": "redis-server"}
    groups: dict[str, list[psutil.Process]] = {group: [] for group in names}
    for process in psutil.process_iter(["name"]):
        for group, name in names.items():
            if process.info["name"] == name:
                groups[group].append(process)
    return {group: cpu_seconds(processes, children=True) for group, processes in groups.items()}


def timed_wrk(base: str, processes: list[psutil.Process], url: str, **options) -> dict:
    """wrk, plus the CPU time per request of the server (steadier than req/s when other jobs share the cores) and
    of PostgreSQL and Redis (which the other side of a comparison may use less or more)."""
    services_before = service_cpu_seconds()
    before = cpu_seconds(processes)
    result = wrk(url, **options)
    services_after = service_cpu_seconds()
    requests = result["requests_per_second"] * options["duration"]

    def per_request(spent: float) -> float:
        return spent * 1000 / requests if requests else 0.0

    result["cpu_ms_per_request"] = per_request(cpu_seconds(processes) - before)
    for group, seconds in services_after.items():
        result[f"{group}_cpu_ms_per_request"] = per_request(seconds - services_before[group])
    return result


def wrk_medians(runs: list[dict]) -> dict:
    """The median of each wrk figure over runs (as timed_wrk returns them)."""
    keys = (
        "requests_per_second",
        "p50_ms",
        "p99_ms",
        "non_2xx",
        "cpu_ms_per_request",
        "postgres_cpu_ms_per_request",
        "redis_cpu_ms_per_request",
    )
    return {key: statistics.median(run[key] for run in runs) for key in keys}


def write_result(name: str, data: dict) -> Path:
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    path = out / f"{name}.json"
    path.write_text(json.dumps(data, indent=2))
    return path


def py_spy(pid: int, seconds: float, out: Path) -> subprocess.Popen:
    """Sample a process and its children (a worker's pool, gunicorn's workers) for `seconds` into a raw profile."""
    spy = str(Path(PYTHON).with_name("py-spy"))
    args = [spy, "record", "--subprocesses", "--nonblocking", "-p", str(pid), "-d", str(int(seconds)), "-r", "200"]
    return subprocess.Popen([*args, "-f", "raw", "-o", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def profile_lines(raw: Path, inside: str, top: int = 25) -> list[str]:
    """The functions with the largest inclusive share of the samples whose stack goes through `inside`."""
    inclusive: dict[str, int] = {}
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        # "name (path/to/file.py:123)" -> "name (file.py)": a function counts once per sample, wherever it sits
        names = {re.sub(r" \((?:.*/)?([^/:]+):\d+\)$", r" (\1)", frame) for frame in stack.split(";")}
        if inside not in names:
            continue
        samples = int(count)
        total += samples
        for name in names:
            if not name.startswith("process "):
                inclusive[name] = inclusive.get(name, 0) + samples
    ranked = sorted(inclusive.items(), key=lambda item: -item[1])
    below = [(name, n) for name, n in ranked if n < total][:top]  # not the frames every sample shares
    return [f"{total} samples through {inside}"] + [f"{100 * n / total:5.1f} %  {name}" for name, n in below]


def profile_shares(raw: Path, inside: str, parts: list[tuple[str, tuple[str, ...]]]) -> dict[str, float]:
    """The share (%) of the samples through `inside` that each part takes: a sample belongs to the first part any
    of whose path fragments one of its frames holds ("Redis" before "authentication": a Redis call made while
    authenticating is Redis), else to "other"."""
    counts = dict.fromkeys([name for name, _ in parts] + ["other"], 0)
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if inside not in stack:
            continue
        samples = int(count)
        total += samples
        name = next((name for name, fragments in parts if any(f in stack for f in fragments)), "other")
        counts[name] += samples
    return {name: round(100 * n / total, 1) if total else 0.0 for name, n in counts.items()}
