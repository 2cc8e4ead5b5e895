from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    """Projects and their members with roles."""

    name = "projects"
