"""Per-render cost of rendering in a renderer process (issue 12) next to rendering in the calling process.

"in process" is the old path (render_in_process, what the runner called before: no limits), "renderer" the
new one (workflows.templating.render: one pipe round trip to a renderer process under rlimits). Both render
the same values against the same context, in alternating blocks so that load from other processes hits both.
Workloads: the four renders of one execution of bench/executions.py's 3-step workflow (three step configs and
the output), the same with 64 KiB of step output in the context (pickled for every render), and a config
without templates (never sent to a renderer).

Usage: .venv/bin/python bench/templating.py [--rounds 2000] [--blocks 10]
"""

import argparse
import os
import statistics
import sys
import time

from harness import ROOT, write_result

if str(ROOT) not in sys.path:
    sys.path.insert(1, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django

django.setup()

from workflows.templating import isolation, render  # noqa: E402
from workflows.templating.render import render_in_process  # noqa: E402
from workflows.templating.sandbox import renderer_process  # noqa: E402

EXECUTION = [  # bench/executions.py's workflow: what the runner renders for one execution
    {"value": {"message": "Hello {{ input.name }}"}},
    {"value": "{{ steps.greet.output.message | upper }}"},
    {"value": "{{ steps.shout.output | length }}"},
    {"greeting": "{{ steps.shout.output }}", "length": "{{ steps.count.output }}"},
]
CONTEXT = {
    "input": {"name": "bench"},
    "steps": {
        "greet": {"output": {"message": "Hello bench"}},
        "shout": {"output": "HELLO BENCH"},
        "count": {"output": 11},
    },
    "execution": {"id": "00000000-0000-0000-0000-000000000000", "started_at": "2026-12-02T00:00:00+00:00"},
    "project": {"id": "00000000-0000-0000-0000-000000000001", "slug": "bench"},
}
BIG_CONTEXT = CONTEXT | {"steps": CONTEXT["steps"] | {"fetch": {"output": {"body": "x" * 65536}}}}
PLAIN = [{"value": {"message": "Hello", "n": 3}}]


def in_process(values, context):
    renderer_process.active = True  # this bench process plays the renderer: the old, unbounded path
    try:
        for value in values:
            render_in_process(value, context)
    finally:
        renderer_process.active = False


def renderer(values, context):
    for value in values:
        render(value, context)


def per_render_us(function, values, context, rounds: int) -> float:
    started = time.perf_counter()
    for _ in range(rounds):
        function(values, context)
    return (time.perf_counter() - started) / (rounds * len(values)) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2000, help="executions' worth of renders per block")
    parser.add_argument("--blocks", type=int, default=10)
    args = parser.parse_args()

    started = time.perf_counter()
    render("{{ 1 }}", {})  # starts this process's renderer
    startup_ms = (time.perf_counter() - started) * 1000
    in_process(EXECUTION, CONTEXT)  # compile caches warm on both sides

    results = {"renderer_start_ms": round(startup_ms, 1), "load_average": os.getloadavg()}
    for name, values, context in (("execution", EXECUTION, CONTEXT), ("execution_64k_context", EXECUTION, BIG_CONTEXT)):
        before, after = [], []
        for _ in range(args.blocks):
            before.append(per_render_us(in_process, values, context, args.rounds // args.blocks))
            after.append(per_render_us(renderer, values, context, args.rounds // args.blocks))
        b, a = statistics.median(before), statistics.median(after)
        results[name] = {"in_process_us": round(b, 1), "renderer_us": round(a, 1), "ratio": round(a / b, 2)}
    plain = [per_render_us(renderer, PLAIN, CONTEXT, args.rounds) for _ in range(3)]
    results["no_template_us"] = round(statistics.median(plain), 1)
    isolation.reset()

    for key, value in results.items():
        print(f"{key}: {value}")
    print(f"written to {write_result('templating', results)}")


if __name__ == "__main__":
    main()
