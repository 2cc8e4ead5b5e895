"""Literal credentials in stored http steps (an Authorization header, a password in a URL) are replaced by
"[redacted]" in every workflow and every version: definitions are readable by every project member, forever.
New definitions are refused with them (workflows.steps.http); the rule is the same function.

Prints how many it found. Not reversible in substance (the values are gone); the reverse does nothing.
"""

from django.db import migrations


def _scrub(definition) -> int:
    from workflows.steps.http import scrub_literal_credentials

    if not isinstance(definition, dict) or not isinstance(definition.get("steps"), list):
        return 0
    found = 0
    for step in definition["steps"]:
        if isinstance(step, dict) and step.get("type") == "http" and isinstance(step.get("config"), dict):
            found += scrub_literal_credentials(step["config"])
    return found


def scrub(apps, schema_editor):
    totals = {}
    for model_name in ("Workflow", "WorkflowVersion"):
        model = apps.get_model("workflows", model_name)
        found = rows = 0
        for row in model.objects.only("pk", "definition").iterator(chunk_size=500):
            count = _scrub(row.definition)
            if count:
                # update(): a version is immutable to the application, and its history does not hold definitions.
                model.objects.filter(pk=row.pk).update(definition=row.definition)
                found, rows = found + count, rows + 1
        totals[model_name] = (found, rows)
    (wf_found, wf_rows), (v_found, v_rows) = totals["Workflow"], totals["WorkflowVersion"]
    print(
        f"\n  workflows.0002: {wf_found + v_found} literal credentials replaced by [redacted] "
        f"({wf_found} in {wf_rows} workflows, {v_found} in {v_rows} versions)"
    )


class Migration(migrations.Migration):
    dependencies = [("workflows", "0001_initial")]

    operations = [migrations.RunPython(scrub, migrations.RunPython.noop, elidable=True)]
