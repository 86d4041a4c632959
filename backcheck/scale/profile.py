"""The production profile on one machine (`make run-scaled`): PostgreSQL, Redis, several Rasa instances, each with
its own action server, and nginx in front serving the same REST channel, API and web page on localhost:5005.

    python -m backcheck.scale.profile      (what `make run-scaled` runs)

Settings (environment; every one optional):
    BACKCHECK_INSTANCES        Rasa instances (default 2), each with an action server
    PORT                       nginx's port (default 5005); instances on PORT+1..., action servers on PORT+51...
    BACKCHECK_DB_HOST, _PORT, _NAME, _USER, _PASSWORD
                               an external PostgreSQL; without BACKCHECK_DB_HOST a private one runs from .scaled/pg
    BACKCHECK_REDIS_HOST, _PORT, _PASSWORD
                               an external Redis; without it a private one runs from .scaled/redis
    RASA_AUTH_TOKEN, BACKCHECK_SESSION_KEY, BACKCHECK_RETENTION_DAYS  as for `make run`

State shared by the instances: conversations in PostgreSQL, the conversation lock in Redis (Rasa's lock store),
Slack and Telegram de-duplication in Redis (BACKCHECK_REDIS_URL), the API token and the web-chat session key
(.secrets/ or the environment). Nothing else lives in an instance, so any of them can take any turn.
"""
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Dict, List, Optional, Text

import yaml

from backcheck.scale.services import Nginx, Postgres, Redis, ensure_packages, stop_processes, wait_port
from backcheck.server import secret

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "backcheck.tar.gz"


class Profile:
    def __init__(self, workdir: Path, instances: int = 2, port: int = 5005, model: Path = MODEL,
                 env: Optional[Dict[Text, Text]] = None, log_dir: Optional[Path] = None) -> None:
        self.workdir, self.instances, self.port, self.model = Path(workdir).resolve(), instances, port, model
        self.env = dict(os.environ if env is None else env)
        self.log_dir = Path(log_dir or self.workdir / "logs")
        self.rasa_ports = [port + 1 + i for i in range(instances)]
        self.action_ports = [port + 51 + i for i in range(instances)]
        self.postgres: Optional[Postgres] = None
        self.redis: Optional[Redis] = None
        self.nginx: Optional[Nginx] = None
        self.rasa: List[Optional[subprocess.Popen]] = [None] * instances
        self.others: List[subprocess.Popen] = []

    def _secret(self, name: Text) -> Text:
        """A generated secret kept in the profile's secrets folder (BACKCHECK_SECRETS_DIR, else .secrets/)."""
        folder = self.env.get("BACKCHECK_SECRETS_DIR")
        return secret(name, secrets_dir=Path(folder) if folder else None)

    # --- services -----------------------------------------------------------------------------------------------
    def _tracker_store(self) -> Dict[Text, object]:
        e = self.env
        if e.get("BACKCHECK_DB_HOST"):
            return {"type": "backcheck.privacy.store.PrivateSQLTrackerStore", "dialect": "postgresql",
                    "url": e["BACKCHECK_DB_HOST"], "port": int(e.get("BACKCHECK_DB_PORT", 5432)),
                    "db": e.get("BACKCHECK_DB_NAME", "backcheck"), "username": e.get("BACKCHECK_DB_USER", "backcheck"),
                    "password": e.get("BACKCHECK_DB_PASSWORD", "")}
        self.postgres = Postgres(self.workdir / "pg", int(e.get("BACKCHECK_PG_PORT", 5433)),
                                 self.env.get("BACKCHECK_DB_PASSWORD") or self._secret("postgres_password")).start()
        return self.postgres.endpoint()

    def _lock_store(self) -> Dict[Text, object]:
        e = self.env
        if e.get("BACKCHECK_REDIS_HOST"):
            store = {"type": "redis", "url": e["BACKCHECK_REDIS_HOST"], "port": int(e.get("BACKCHECK_REDIS_PORT", 6379)),
                     "password": e.get("BACKCHECK_REDIS_PASSWORD") or None, "db": 0, "key_prefix": "backcheck"}
        else:
            self.redis = Redis(self.workdir / "redis", int(e.get("BACKCHECK_REDIS_PORT", 6380)),
                               self.env.get("BACKCHECK_REDIS_PASSWORD") or self._secret("redis_password")).start()
            store = self.redis.endpoint()
        password = f":{store['password']}@" if store.get("password") else ""
        self.env.setdefault("BACKCHECK_REDIS_URL", f"redis://{password}{store['url']}:{store['port']}/1")
        return store

    def endpoints(self, i: int, tracker_store: Dict, lock_store: Dict) -> Path:
        path = self.workdir / f"endpoints-{i}.yml"
        path.write_text(yaml.safe_dump({
            "action_endpoint": {"url": f"http://127.0.0.1:{self.action_ports[i]}/webhook",
                                "enable_selective_domain": True},
            "tracker_store": tracker_store, "lock_store": lock_store}, sort_keys=False))
        os.chmod(path, 0o600)  # it holds the passwords
        return path

    # --- processes ----------------------------------------------------------------------------------------------
    def _spawn(self, name: Text, command: List[Text]) -> subprocess.Popen:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_dir / f"{name}.log", "a")
        return subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)

    def start_rasa(self, i: int) -> None:
        self.rasa[i] = self._spawn(f"rasa-{i}", [
            sys.executable, "-m", "backcheck.server", "rasa", "--model", str(self.model), "--enable-api",
            "--interface", "127.0.0.1", "--port", str(self.rasa_ports[i]), "--credentials",
            str(ROOT / "credentials.yml"), "--endpoints", str(self.workdir / f"endpoints-{i}.yml")])

    def wait_rasa(self, i: int, timeout: float = 180) -> None:
        url = f"http://127.0.0.1:{self.rasa_ports[i]}/status?token={self.env['RASA_AUTH_TOKEN']}"
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.rasa[i].poll() is not None:
                raise RuntimeError(f"Rasa instance {i} exited; see {self.log_dir}/rasa-{i}.log")
            try:
                urllib.request.urlopen(url, timeout=2).read()
                return
            except OSError:
                time.sleep(0.5)
        raise TimeoutError(f"Rasa instance {i} did not start in {timeout} s")

    def start(self) -> "Profile":
        """Starts everything; if any part fails, stops what did start and raises."""
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> "Profile":
        self.workdir.mkdir(parents=True, exist_ok=True)
        ensure_packages(["postgresql", "redis-server", "nginx"])
        own = f"http://localhost:{self.port} http://127.0.0.1:{self.port}"
        self.env.setdefault("BACKCHECK_CORS_ORIGINS", own)  # the page is served through nginx's port
        self.env.setdefault("RASA_AUTH_TOKEN", self._secret("rasa_auth_token"))
        self.env.setdefault("BACKCHECK_SESSION_KEY", self._secret("socketio_session_key"))
        self.env.setdefault("PYTHONPATH", str(ROOT))
        tracker_store, lock_store = self._tracker_store(), self._lock_store()
        for i in range(self.instances):
            self.endpoints(i, tracker_store, lock_store)
            self.others.append(self._spawn(f"actions-{i}", [
                sys.executable, "-m", "backcheck.server", "supervise", "--", sys.executable, "-m", "backcheck.server",
                "actions", "--port", str(self.action_ports[i]), "--quiet"]))
            self.start_rasa(i)
        self.others.append(self._spawn("retention", [sys.executable, "-m", "backcheck.privacy.store", "purge",
                                                     "--every", "24", "--endpoints",
                                                     str(self.workdir / "endpoints-0.yml")]))
        for i in range(self.instances):
            wait_port(self.action_ports[i], timeout=120)
            self.wait_rasa(i)
        self.nginx = Nginx(self.workdir / "nginx", self.port, self.rasa_ports).start()
        return self

    def restart_instance(self, i: int) -> None:
        stop_processes([self.rasa[i]], timeout=60)
        self.start_rasa(i)
        self.wait_rasa(i)

    def stop(self) -> None:
        stop_processes([*self.rasa, *self.others])
        for service in (self.nginx, self.redis, self.postgres):
            if service is not None:
                service.stop()


def main() -> None:
    profile = Profile(ROOT / ".scaled", instances=int(os.environ.get("BACKCHECK_INSTANCES", 2)),
                      port=int(os.environ.get("PORT", 5005)))
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    try:
        profile.start()
        print(f"BackCheck (production profile) on http://127.0.0.1:{profile.port}/chat/ : {profile.instances} Rasa "
              f"instances on {profile.rasa_ports}, action servers on {profile.action_ports}, PostgreSQL, Redis; "
              f"logs in {profile.log_dir}", flush=True)
        while not stop["now"]:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        profile.stop()


if __name__ == "__main__":
    main()
