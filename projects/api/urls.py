from django.urls import path

from projects.api import views

project_list = views.ProjectViewSet.as_view({"get": "list", "post": "create"})
project_detail = views.ProjectViewSet.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"})
member_list = views.MembershipViewSet.as_view({"get": "list", "post": "create"})
member_detail = views.MembershipViewSet.as_view({"patch": "partial_update", "delete": "destroy"})
secret_list = views.ProjectSecretViewSet.as_view({"get": "list", "post": "create"})
secret_detail = views.ProjectSecretViewSet.as_view({"put": "update", "delete": "destroy"})
invitation_list = views.InvitationViewSet.as_view({"get": "list", "post": "create"})
invitation_detail = views.InvitationViewSet.as_view({"delete": "destroy"})

urlpatterns = [
    path("", project_list, name="project-list"),
    path("<uuid:pk>/", project_detail, name="project-detail"),
    path("<uuid:project_pk>/members/", member_list, name="member-list"),
    path("<uuid:project_pk>/members/<uuid:pk>/", member_detail, name="member-detail"),
    path("<uuid:project_pk>/secrets/", secret_list, name="secret-list"),
    path("<uuid:project_pk>/secrets/<str:name>/", secret_detail, name="secret-detail"),
    path("<uuid:project_pk>/invitations/", invitation_list, name="invitation-list"),
    path("<uuid:project_pk>/invitations/<uuid:pk>/", invitation_detail, name="invitation-detail"),
]
