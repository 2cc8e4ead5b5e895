from django.urls import path

from accounts.api import views

urlpatterns = [
    path("register/", views.RegisterApi.as_view(), name="register"),
    path("login/", views.LoginApi.as_view(), name="login"),
    path("refresh/", views.RefreshApi.as_view(), name="refresh"),
    path("logout/", views.LogoutApi.as_view(), name="logout"),
    path("verify-email/", views.VerifyEmailApi.as_view(), name="verify-email"),
    path("verify-email/resend/", views.VerifyEmailResendApi.as_view(), name="verify-email-resend"),
    path("me/", views.MeApi.as_view(), name="me"),
    path("me/export/", views.ExportApi.as_view(), name="me-export"),
    path("me/export/<uuid:pk>/", views.ExportDetailApi.as_view(), name="me-export-detail"),
    path("me/export/<uuid:pk>/download/", views.ExportDownloadApi.as_view(), name="me-export-download"),
    path("password/", views.PasswordChangeApi.as_view(), name="password"),
]
