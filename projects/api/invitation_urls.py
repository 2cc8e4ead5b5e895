"""`…/invitations/…`: what an invitee does (the project's own invitations are under projects/{id}/invitations/)."""

from django.urls import path

from projects.api import views

urlpatterns = [
    path("accept/", views.InvitationAcceptApi.as_view(), name="invitation-accept"),
]
