from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import permissions, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors, services
from accounts.api import serializers
from accounts.gdpr import erasure, export
from common.permissions import SESSION, UNBOUND
from common.throttling import AnonThrottle, AuthThrottle, EmailThrottle, UserThrottle


class PublicAuthApi(APIView):
    """Base for endpoints reached without an access token; failures still answer 401 with a challenge."""

    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]
    throttle_classes = [AnonThrottle]

    def get_authenticate_header(self, request):
        return 'Bearer realm="api"'


class RegisterApi(PublicAuthApi):
    throttle_classes = [AnonThrottle, AuthThrottle]

    @extend_schema(
        request=serializers.RegisterInputSerializer,
        responses={201: serializers.RegisterOutputSerializer},
        tags=["auth"],
    )
    def post(self, request):
        data = serializers.RegisterInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_register(
            email=data.validated_data["email"],
            password=data.validated_data["password"],
            full_name=data.validated_data["full_name"],
        )
        body = services.token_pair_for(user) | {"user": serializers.UserOutputSerializer(user).data}
        return Response(body, status=status.HTTP_201_CREATED)


class LoginApi(PublicAuthApi):
    throttle_classes = [AnonThrottle, AuthThrottle]
    error_statuses = {"post": {401}}

    @extend_schema(
        request=serializers.LoginInputSerializer, responses={200: serializers.TokenOutputSerializer}, tags=["auth"]
    )
    def post(self, request):
        data = serializers.LoginInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_login(request=request, **data.validated_data)
        return Response(services.token_pair_for(user))


class RefreshApi(PublicAuthApi):
    error_statuses = {"post": {401}}

    @extend_schema(
        request=serializers.RefreshInputSerializer, responses={200: serializers.TokenOutputSerializer}, tags=["auth"]
    )
    def post(self, request):
        data = serializers.RefreshInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(services.token_refresh(refresh_token=data.validated_data["refresh_token"]))


class LogoutApi(PublicAuthApi):
    error_statuses = {"post": {401}}

    @extend_schema(request=serializers.RefreshInputSerializer, responses={204: None}, tags=["auth"])
    def post(self, request):
        data = serializers.RefreshInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.token_revoke(refresh_token=data.validated_data["refresh_token"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class VerifyEmailApi(PublicAuthApi):
    """The link of the verification mail: the token alone proves the mail was read (no sign-in needed)."""

    throttle_classes = [AnonThrottle, AuthThrottle]
    resource = "user"
    error_statuses = {"post": {410}}

    @extend_schema(
        request=serializers.VerifyEmailInputSerializer,
        responses={200: serializers.UserOutputSerializer},
        tags=["auth"],
        summary="Verify my email address",
        description="400 for a token that is not genuine; 410 for an expired one, or one already used.",
    )
    def post(self, request):
        data = serializers.VerifyEmailInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.email_verify(token=data.validated_data["token"])
        return Response(serializers.UserOutputSerializer(user).data)


class VerifyEmailResendApi(APIView):
    throttle_classes = [UserThrottle, EmailThrottle]
    resource = "user"
    error_statuses = {"post": {409}}

    @extend_schema(
        request=None,
        responses={202: None},
        tags=["auth"],
        summary="Send me a new verification mail",
        description="409 when the address is already verified; throttled per user (THROTTLE_EMAIL).",
    )
    def post(self, request):
        services.email_verification_request(user=request.user)
        return Response(status=status.HTTP_202_ACCEPTED)


class MeApi(APIView):
    throttle_classes = [UserThrottle]
    error_statuses = {"delete": {400}}
    # An API or OAuth2 token may read who it acts as; the erasure needs a session, the profile an unbound token.
    token_access = {"delete": SESSION, "patch": UNBOUND}

    def get_throttles(self):
        # The erasure takes the password: the same limit as sign-in against guessing it.
        extra = [AuthThrottle()] if self.request.method == "DELETE" else []
        return [*super().get_throttles(), *extra]

    @extend_schema(responses={200: serializers.UserOutputSerializer}, tags=["auth"])
    def get(self, request):
        return Response(serializers.UserOutputSerializer(request.user).data)

    @extend_schema(
        request=serializers.UserUpdateInputSerializer, responses={200: serializers.UserOutputSerializer}, tags=["auth"]
    )
    def patch(self, request):
        data = serializers.UserUpdateInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        user = services.user_update(user=request.user, **data.validated_data)
        return Response(serializers.UserOutputSerializer(user).data)

    @extend_schema(
        request=serializers.EraseInputSerializer,
        responses={204: None},
        tags=["auth"],
        summary="Erase my account (GDPR Art. 17)",
        description=(
            "Pseudonymises the account for good, after the password: projects you are alone in are deleted, the "
            "others pass to a remaining member; every session ends. 403 and nothing changes for a wrong password."
        ),
    )
    def delete(self, request):
        data = serializers.EraseInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        erasure.user_erase_self(user=request.user, password=data.validated_data["password"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordChangeApi(APIView):
    throttle_classes = [UserThrottle, AuthThrottle]
    token_access = SESSION

    @extend_schema(request=serializers.PasswordChangeInputSerializer, responses={204: None}, tags=["auth"])
    def post(self, request):
        data = serializers.PasswordChangeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.user_password_change(user=request.user, **data.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ExportApi(APIView):
    throttle_classes = [UserThrottle]
    token_access = UNBOUND  # the whole account's data, beyond any one project
    resource = "dataexport"  # the audit event's resource_type (the id comes from the response)

    @extend_schema(
        request=None,
        responses={202: serializers.DataExportOutputSerializer},
        tags=["auth"],
        summary="Request a copy of my data (GDPR Art. 15/20)",
        description="Builds one JSON document in the background; poll the export, then download it (7 days).",
    )
    def post(self, request):
        data_export = export.data_export_request(user=request.user)
        body = serializers.DataExportOutputSerializer(data_export, context={"request": request}).data
        return Response(body, status=status.HTTP_202_ACCEPTED)


class ExportDetailApi(APIView):
    throttle_classes = [UserThrottle]
    token_access = UNBOUND  # the whole account's data, beyond any one project
    resource = "dataexport"  # the model name, as resource_of gives it for serializer-backed views

    @extend_schema(responses={200: serializers.DataExportOutputSerializer}, tags=["auth"])
    def get(self, request, pk):
        data_export = selectors.data_export_get(user=request.user, export_id=pk)
        return Response(serializers.DataExportOutputSerializer(data_export, context={"request": request}).data)


class ExportDownloadApi(APIView):
    throttle_classes = [UserThrottle]
    token_access = UNBOUND  # the whole account's data, beyond any one project
    resource = "dataexport"
    error_statuses = {"get": {409, 410}}
    enveloped = False  # the document itself, in every version

    @extend_schema(
        responses={(200, "application/json"): OpenApiResponse(OpenApiTypes.OBJECT, description="The export document.")},
        tags=["auth"],
    )
    def get(self, request, pk):
        data_export = selectors.data_export_get(user=request.user, export_id=pk)
        document = export.data_export_open(export=data_export)
        filename = f"aiassistant-export-{data_export.created_at:%Y-%m-%d}.json"
        return FileResponse(document, as_attachment=True, filename=filename, content_type="application/json")
