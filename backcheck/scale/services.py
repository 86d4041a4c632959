"""PostgreSQL, Redis and nginx from Debian's packages, each run privately on loopback with its data in one folder.

Used by `make run-scaled` (backcheck/scale/profile.py) and by the tests, which start the services they need.
Nothing here touches a system-wide instance: each service gets its own data directory, port and password.
"""
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Dict, List, Optional, Text

PACKAGES = {"postgresql": "/usr/lib/postgresql", "redis-server": "/usr/bin/redis-server", "nginx": "/usr/sbin/nginx"}


def ensure_packages(names: List[Text]) -> None:
    """Installs the Debian packages that are missing (as root), or stops with what to install."""
    missing = [name for name in names if not Path(PACKAGES[name]).exists()]
    if not missing:
        return
    if os.geteuid() != 0:
        raise SystemExit(f"Install Debian's {' '.join(missing)} (sudo apt-get install {' '.join(missing)}).")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True, env=env, stdout=subprocess.DEVNULL)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: Optional[subprocess.Popen] = None, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"nothing listens on {port} after {timeout} s")


def stop_processes(procs: List[Optional[subprocess.Popen]], timeout: float = 30) -> None:
    """SIGTERM to all (PostgreSQL: smart shutdown), then waits for each, killing one that outlasts `timeout`."""
    running = [proc for proc in procs if proc is not None and proc.poll() is None]
    for proc in running:
        proc.terminate()
    for proc in running:
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()


class _Service:
    """A service run as one child process."""

    proc: Optional[subprocess.Popen] = None

    def stop(self) -> None:
        stop_processes([self.proc])


def _postgres_bin() -> Path:
    versions = sorted(Path(PACKAGES["postgresql"]).glob("*/bin/postgres"), key=lambda p: int(p.parts[-3]))
    if not versions:
        raise SystemExit("PostgreSQL binaries not found under /usr/lib/postgresql")
    return versions[-1].parent


class Postgres(_Service):
    """A private PostgreSQL cluster in `data_dir` (run as the `postgres` user when started by root)."""

    def __init__(self, data_dir: Path, port: int, password: Text, database: Text = "backcheck",
                 user: Text = "backcheck") -> None:
        self.data_dir, self.port, self.password = Path(data_dir).resolve(), port, password
        self.database, self.user = database, user

    def _as_owner(self, command: List[Text]) -> List[Text]:
        return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command

    def start(self) -> "Postgres":
        binaries = _postgres_bin()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.data_dir, "postgres", "postgres")
        os.chmod(self.data_dir, 0o700)
        if not (self.data_dir / "PG_VERSION").exists():
            pwfile = self.data_dir.parent / f".{self.data_dir.name}.pw"
            pwfile.write_text(self.password + "\n")
            if os.geteuid() == 0:
                shutil.chown(pwfile, "postgres", "postgres")
            subprocess.run(self._as_owner([str(binaries / "initdb"), "-D", str(self.data_dir), "-U", self.user,
                                           f"--pwfile={pwfile}", "--auth=scram-sha-256", "-E", "UTF8"]),
                           check=True, stdout=subprocess.DEVNULL)
            pwfile.unlink()
        self.proc = subprocess.Popen(self._as_owner([
            str(binaries / "postgres"), "-D", str(self.data_dir), "-p", str(self.port), "-c", "listen_addresses=127.0.0.1",
            "-c", f"unix_socket_directories={self.data_dir}", "-c", "max_connections=200", "-c", "fsync=on",
            "-c", "logging_collector=off"]), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        wait_port(self.port, self.proc)
        self._create_database()
        return self

    def _create_database(self) -> None:
        import psycopg2

        deadline = time.time() + 30
        while True:
            try:
                connection = psycopg2.connect(host="127.0.0.1", port=self.port, user=self.user,
                                              password=self.password, dbname="postgres")
                break
            except psycopg2.OperationalError:  # still starting up
                if time.time() > deadline:
                    raise
                time.sleep(0.3)
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.database,))
            if cursor.fetchone() is None:
                cursor.execute(f'CREATE DATABASE "{self.database}"')
        connection.close()

    def endpoint(self) -> Dict[Text, object]:
        """The tracker_store section for endpoints.yml."""
        return {"type": "backcheck.privacy.store.PrivateSQLTrackerStore", "dialect": "postgresql",
                "url": "127.0.0.1", "port": self.port, "db": self.database, "username": self.user,
                "password": self.password}



class Redis(_Service):
    """A private Redis on loopback with a password; nothing written to disk unless `data_dir` asks for it."""

    def __init__(self, data_dir: Path, port: int, password: Text) -> None:
        self.data_dir, self.port, self.password = Path(data_dir).resolve(), port, password

    def start(self) -> "Redis":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.data_dir / "redis.conf"
        config.write_text(f"bind 127.0.0.1\nport {self.port}\nrequirepass {self.password}\ndir {self.data_dir}\n"
                          "appendonly yes\nsave \"\"\nprotected-mode yes\n")
        os.chmod(config, 0o600)
        self.proc = subprocess.Popen([PACKAGES["redis-server"], str(config)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.STDOUT)
        wait_port(self.port, self.proc)
        return self

    def url(self, db: int = 1) -> Text:
        return f"redis://:{self.password}@127.0.0.1:{self.port}/{db}"

    def endpoint(self) -> Dict[Text, object]:
        """The lock_store section for endpoints.yml."""
        return {"type": "redis", "url": "127.0.0.1", "port": self.port, "password": self.password, "db": 0,
                "key_prefix": "backcheck"}



class Nginx(_Service):
    """nginx on `port` in front of the Rasa instances: socket.io sticky by client address, the rest round robin."""

    def __init__(self, data_dir: Path, port: int, upstreams: List[int]) -> None:
        self.data_dir, self.port, self.upstreams = Path(data_dir).resolve(), port, upstreams

    def config(self) -> Text:
        servers = "".join(f"    server 127.0.0.1:{p} max_fails=1 fail_timeout=2s;\n" for p in self.upstreams)
        d = self.data_dir
        return f"""daemon off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_max_body_size 16k;
  client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
  upstream rasa {{
{servers}    keepalive 32;
  }}
  upstream rasa_sticky {{
    ip_hash;
{servers}  }}
  map $http_upgrade $connection_upgrade {{ default upgrade; '' ''; }}
  server {{
    listen 127.0.0.1:{self.port};
    location /socket.io/ {{
      proxy_pass http://rasa_sticky;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Host $host;
      proxy_read_timeout 120s;
    }}
    location / {{
      proxy_pass http://rasa;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_next_upstream error timeout http_502 http_503;
      proxy_read_timeout 120s;
    }}
  }}
}}
"""

    def start(self) -> "Nginx":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "nginx.conf").write_text(self.config())
        self.proc = subprocess.Popen([PACKAGES["nginx"], "-c", str(self.data_dir / "nginx.conf"), "-p",
                                      str(self.data_dir)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        wait_port(self.port, self.proc)
        return self

