"""Starts the real assistant (action server + Rasa server with REST, socketio and the API) for end-to-end tests."""
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "backcheck.tar.gz"
SHARED_EVAL = ROOT.parent / "shared" / "eval"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, proc: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


class Bot:
    def __init__(self, workdir: Path, extra_env=None):
        self.workdir = workdir
        self.extra_env = dict(extra_env or {})
        self.port, self.actions_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.db = workdir / "trackers.db"
        self.procs = []
        self.token = secrets.token_urlsafe(24)
        self.jwt_secret = secrets.token_urlsafe(24)

    def q(self, path: str, **params) -> str:
        """URL of `path` on this bot with the API token (and any other query parameters)."""
        query = urllib.parse.urlencode(dict(token=self.token, **params))
        return f"{self.url}{path}{'&' if '?' in path else '?'}{query}"

    def endpoints(self) -> Path:
        path = self.workdir / "endpoints.yml"
        path.write_text(
            f'action_endpoint:\n  url: "http://127.0.0.1:{self.actions_port}/webhook"\n  enable_selective_domain: true\n'
            f'tracker_store:\n  type: backcheck.privacy.store.PrivateSQLTrackerStore\n'
            f'  dialect: "sqlite"\n  db: "{self.db}"\n'
        )
        return path

    def start(self) -> "Bot":
        env = dict(os.environ, PYTHONPATH=str(ROOT), RASA_TELEMETRY_ENABLED="false", TF_CPP_MIN_LOG_LEVEL="3",
                   RASA_AUTH_TOKEN=self.token, RASA_JWT_SECRET=self.jwt_secret, BACKCHECK_SECRETS_DIR=str(self.workdir / "secrets"))
        for var in ("TELEGRAM_TOKEN", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"):
            env.pop(var, None)
        env.update(self.extra_env)
        self.env = env
        log = open(self.workdir / "actions.log", "w")
        # as `make run` starts it: supervised, so an action server that dies is started again
        self.actions_pidfile = self.workdir / "actions.pid"
        actions = subprocess.Popen([sys.executable, "-m", "backcheck.server", "supervise", "--pidfile",
                                    str(self.actions_pidfile), "--", sys.executable, "-m", "backcheck.server",
                                    "actions", "--port", str(self.actions_port)],
                                   cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(actions)
        self.start_rasa(env)
        wait_for(f"http://127.0.0.1:{self.actions_port}/health", actions)
        return self

    def start_rasa(self, env=None) -> None:
        env = env or self.env
        log = open(self.workdir / "rasa.log", "a")
        proc = subprocess.Popen([sys.executable, "-m", "backcheck.server", "rasa", "--model", str(MODEL), "--enable-api", "--interface", "127.0.0.1",
                                 "--port", str(self.port), "--credentials", str(ROOT / "credentials.yml"),
                                 "--endpoints", str(self.endpoints())],
                                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        self.rasa = proc
        wait_for(self.q("/status"), proc)

    def restart_rasa(self) -> None:
        self.rasa.terminate()
        self.rasa.wait(timeout=30)
        self.procs.remove(self.rasa)
        self.start_rasa()

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture(scope="session")
def bot(tmp_path_factory):
    if not MODEL.exists():
        pytest.fail(f"{MODEL} is missing: run `make train` (make test does it)")
    running = Bot(tmp_path_factory.mktemp("bot"))
    try:
        running.start()
    except BaseException:
        running.stop()  # nothing left running when the start fails
        raise
    yield running
    running.stop()
