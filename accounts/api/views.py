from drf_spectacular.utils import extend_schema
from rest_framework import permissions, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services
from accounts.api import serializers
from common.throttling import AnonThrottle, AuthThrottle, UserThrottle


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


class MeApi(APIView):
    throttle_classes = [UserThrottle]

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


class PasswordChangeApi(APIView):
    throttle_classes = [UserThrottle, AuthThrottle]

    @extend_schema(request=serializers.PasswordChangeInputSerializer, responses={204: None}, tags=["auth"])
    def post(self, request):
        data = serializers.PasswordChangeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.user_password_change(user=request.user, **data.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)
