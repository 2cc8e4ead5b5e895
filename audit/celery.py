"""The actor travels with Celery tasks: the publisher's actor goes into the message headers, and the worker runs
the task as that actor. Celery beat acts as `system:beat`, so the tasks it schedules run as `system:beat`.

(An execution's task runs as the user who triggered the execution: the runner says so itself.)
"""

import contextvars

from celery import signals

from audit import context

_HEADER = "aiassistant_actor"
_tokens: dict[str, contextvars.Token] = {}


def _encode(actor: context.Actor) -> str:
    return f"{actor.kind}:{actor.id or actor.label}"


def _decode(value: str | None) -> context.Actor:
    kind, _, rest = (value or "").partition(":")
    if kind == context.USER and rest:
        return context.Actor.user(rest)
    if kind == context.SYSTEM and rest:
        return context.Actor.system(rest)
    if kind == context.ANONYMOUS:
        return context.Actor(kind=context.ANONYMOUS)
    return context.Actor.system("system:beat")


@signals.beat_init.connect(weak=False)
def _beat_acts_as_system(sender=None, **kwargs):
    context.act_as_process(context.Actor.system("system:beat"))


@signals.before_task_publish.connect(weak=False)
def _actor_into_headers(sender=None, headers=None, **kwargs):
    if headers is not None:
        headers[_HEADER] = _encode(context.current_actor())


@signals.task_prerun.connect(weak=False)
def _run_as_actor(sender=None, task_id=None, task=None, **kwargs):
    request = getattr(task, "request", None)
    value = getattr(request, _HEADER, None) or (getattr(request, "headers", None) or {}).get(_HEADER)
    _tokens[task_id] = context.begin(actor=_decode(value))


@signals.task_postrun.connect(weak=False)
def _forget_actor(sender=None, task_id=None, **kwargs):
    token = _tokens.pop(task_id, None)
    if token is not None:
        context.end(token)
