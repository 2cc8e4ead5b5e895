from django.urls import path

from workflows.api import views

workflow_list = views.WorkflowViewSet.as_view({"get": "list", "post": "create"})
workflow_detail = views.WorkflowViewSet.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"})
version_list = views.WorkflowVersionViewSet.as_view({"get": "list"})
execution_list = views.WorkflowExecutionViewSet.as_view({"get": "list", "post": "create"})
definition_schema = views.WorkflowDefinitionSchemaApi.as_view()

urlpatterns = [
    path("projects/<uuid:project_pk>/workflows/", workflow_list, name="workflow-list"),
    # Listed before workflows/<uuid:pk>/, which it cannot clash with: "definition-schema" is no UUID.
    path("workflows/definition-schema/", definition_schema, name="workflow-definition-schema"),
    path("workflows/<uuid:pk>/", workflow_detail, name="workflow-detail"),
    path("workflows/<uuid:workflow_pk>/versions/", version_list, name="workflow-version-list"),
    path("workflows/<uuid:workflow_pk>/executions/", execution_list, name="workflow-execution-list"),
    path("executions/<uuid:pk>/", views.ExecutionDetailApi.as_view(), name="execution-detail"),
    path("executions/<uuid:pk>/cancel/", views.ExecutionCancelApi.as_view(), name="execution-cancel"),
]
