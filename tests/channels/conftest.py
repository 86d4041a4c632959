import pytest
from sanic import Sanic


@pytest.fixture(scope="session", autouse=True)
def sanic_test_mode():
    """Lets several Sanic apps start in one process (what sanic_testing does).

    Without it, Sanic 21.12's TouchUp re-compiles already touched methods when a
    second app starts and fails with KeyError. Kept on for the whole session.
    """
    Sanic.test_mode = True
    yield
