"""The Auditors group: view permission on the audit models, and nothing else.

Made by a data migration, and again after every migrate and flush (post_migrate), since a flush (the test suite's,
or an operator's) empties the groups table.
"""

AUDITORS = "Auditors"
MODELS = ("auditevent", "modelhistory", "auditseal")


def ensure_auditors(group_model, permission_model) -> None:
    """Create the group if needed and give it exactly the audit view permissions (models of any registry)."""
    group, _ = group_model.objects.get_or_create(name=AUDITORS)
    group.permissions.set(
        permission_model.objects.filter(content_type__app_label="audit", codename__in=[f"view_{m}" for m in MODELS])
    )


def on_post_migrate(sender, **kwargs) -> None:
    from django.contrib.auth.models import Group, Permission

    ensure_auditors(Group, Permission)
