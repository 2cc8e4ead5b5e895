"""The DRF side of API versions: request.version and the version's envelope (a renderer). Its paginator is
picked by common.api.PaginatedListMixin."""

from rest_framework.renderers import JSONRenderer
from rest_framework.versioning import NamespaceVersioning

from common import api_versions

# The URL namespaces of the versioned mounts (config/urls.py); `/api/<resource>` is the namespace "api".
NAMESPACES = {f"v{number}": number for number in api_versions.VERSIONS}


class ApiVersioning(NamespaceVersioning):
    """request.version: what ApiVersionMiddleware negotiated, else the URL namespace's version.

    The namespace alone decides for requests the middleware did not see: drf-spectacular's schema generation
    (which lists a version's operations by resolving its paths) and views called directly in tests. Those of the
    unversioned mount have no version there, so they appear in no schema (they are the same operations).
    """

    def determine_version(self, request, *args, **kwargs):
        negotiated = getattr(request, "api_version", None)
        if negotiated is not None:
            return negotiated
        match = getattr(request, "resolver_match", None)
        return NAMESPACES.get(match.namespace if match is not None else "")

    def get_versioned_viewname(self, viewname, request):
        return f"v{request.version}:{viewname}"


def resource_of(view) -> str | None:
    """The resource a view answers with (its serializer's model name: "project", "execution"...)."""
    resource = getattr(view, "resource", None)
    if resource is None and getattr(view, "serializer_class", None) is not None:
        model = getattr(getattr(view.serializer_class, "Meta", None), "model", None)
        resource = model._meta.model_name if model is not None else None
    return resource


class VersionedJSONRenderer(JSONRenderer):
    """JSON in the shape of the request's version: its envelope and resource changes. Errors are left alone
    (problem+json is the same in every version), and so are empty bodies (204)."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        context = renderer_context or {}
        request, response = context.get("request"), context.get("response")
        if data is not None and request is not None and response is not None and response.status_code < 400:
            data = api_versions.get(request.version).body(
                data,
                request=request,
                resource=resource_of(context.get("view")),
                paginated=getattr(response, "paginated", False),
            )
        return super().render(data, accepted_media_type, renderer_context)
