"""Invalidation of the cached project lists (common.read_cache, namespace "projects"; docs/operations.md).

A user's project list shows each project's fields and the user's role in it, so it changes when a project of
theirs is saved or deleted and when one of their memberships is created, changed (a role) or deleted. These
receivers (connected in projects.apps) drop the lists of exactly the users concerned. They are signals rather than
calls in the services because every path must drop them: the services, the admin, cascades (a project's or a
user's deletion, the GDPR erasure) and factories alike; the cache is no business rule (like accounts.tokens.
forget_user).
"""

from common import read_cache

NAMESPACE = "projects"


def forget_project_members(sender, instance, created=False, **kwargs) -> None:
    """A project was changed: every member's list shows it (a new project has no member yet)."""
    if created:
        return
    from projects.models import Membership

    read_cache.forget(NAMESPACE, Membership.objects.filter(project_id=instance.pk).values_list("user_id", flat=True))


def forget_member(sender, instance, **kwargs) -> None:
    """A membership was created, changed or deleted (with its project or its user too): that user's list."""
    read_cache.forget(NAMESPACE, [instance.user_id])
