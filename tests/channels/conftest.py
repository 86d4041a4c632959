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


class FakeHealth:
    """Stands in for the guard's action-server probe."""

    def __init__(self, up: bool = True) -> None:
        self.is_up, self.calls = up, 0

    async def up(self, url) -> bool:
        self.calls += 1
        return self.is_up


@pytest.fixture
def action_server_down(monkeypatch):
    """The guard sees the action server as down."""
    from backcheck.channels import guard

    health = FakeHealth(up=False)
    monkeypatch.setattr(guard, "HEALTH", health)
    return health
