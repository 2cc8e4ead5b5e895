import psycopg
import pytest
import redis
from django.conf import settings
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts.services import token_pair_for
from projects.models import Role
from tests.factories import MembershipFactory, ProjectFactory, UserFactory
from tests.workers import start_worker  # noqa: F401  (a fixture for every test package)


def pytest_sessionstart(session):
    """The suite runs on real PostgreSQL and Redis: stop at once, saying which, when one is unreachable."""
    db = settings.DATABASES["default"]
    try:
        psycopg.connect(
            host=db["HOST"],
            port=db["PORT"] or 5432,
            user=db["USER"],
            password=db["PASSWORD"],
            dbname="postgres",
            connect_timeout=5,
        ).close()
    except psycopg.OperationalError as exc:
        pytest.exit(
            f"PostgreSQL at {db['HOST']}:{db['PORT']} is not reachable ({exc}); "
            "`make test` starts a local one, or set DATABASE_URL",
            returncode=3,
        )
    location = settings.CACHES["default"]["LOCATION"]
    try:
        redis.Redis.from_url(location, socket_connect_timeout=5).ping()
    except redis.RedisError as exc:
        pytest.exit(
            f"Redis at {location} is not reachable ({exc}); `make test` starts a local one, or set REDIS_URL",
            returncode=3,
        )


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The audit tables refuse TRUNCATE (migration audit 0002) except where the database allows it: the test
    database does, so that Django can empty its tables between transactional tests."""
    from django.db import connection

    with django_db_blocker.unblock():
        with connection.cursor() as cursor:
            cursor.execute(f'ALTER DATABASE "{connection.settings_dict["NAME"]}" SET audit.allow_truncate = on')
        connection.close()  # the setting applies to sessions opened from now on


@pytest.fixture(autouse=True)
def _clean_cache():
    """Throttle counters and other cached state never leak between tests."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(scope="session")
def moto_endpoint():
    """moto's standalone S3 stand-in on a free local port, for the whole session (backups, static files)."""
    from moto.server import ThreadedMotoServer

    from tests.support import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def api_client():
    return APIClient()


def client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_pair_for(user)['access_token']}")
    return client


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def auth_client(user):
    return client_for(user)


@pytest.fixture
def project_with_roles(db):
    """A project with one member of each role, plus an outsider; returns (project, {role: user})."""
    project = ProjectFactory()
    users = {}
    for role in Role.values:
        users[role] = MembershipFactory(project=project, role=role).user
    users["outsider"] = UserFactory()
    return project, users
