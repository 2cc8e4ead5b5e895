"""What the views of a project's nested resources share (``/projects/{project_id}/...``)."""

from projects import selectors


class ProjectScopedMixin:
    """The project of the URL's ``project_pk``, with the caller's role; 404 unless the caller is a member."""

    def _project(self):
        return selectors.project_get(user=self.request.user, project_id=self.kwargs["project_pk"])  # type: ignore[attr-defined]
