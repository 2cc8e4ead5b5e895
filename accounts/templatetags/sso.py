"""`{% sso_login_url as url %}`: the admin login page's "Sign in with SSO" link, empty while SSO is off."""

from urllib.parse import urlencode

from django import template
from django.conf import settings
from django.urls import reverse

register = template.Library()


@register.simple_tag(takes_context=True)
def sso_login_url(context) -> str:
    if not settings.OIDC_ENABLED:
        return ""
    url = reverse("oidc_authentication_init")
    following = context.get("next") or reverse("admin:index")
    return f"{url}?{urlencode({'next': following})}"
