"""Starts BackCheck's servers hardened for the internet (what `make run` and the end-to-end tests run).

    python -m backcheck.server rasa [rasa run options]   Rasa with the API behind a token, CORS limited to the
                                                         configured origins, a request size cap, redacted logs,
                                                         and the speed-ups of backcheck/speedups.py
    python -m backcheck.server actions [--port 5055]     the action server (loopback by default), redacted logs,
                                                         errors that do not echo the tracker back
    python -m backcheck.server supervise [--pidfile F] -- command ...
                                                         runs a command and restarts it whenever it dies

Settings (environment):
    RASA_AUTH_TOKEN          API token; without it one is generated once into .secrets/rasa_auth_token
    RASA_JWT_SECRET          optional: also accept JWTs signed with it (role `user` sees only its own sender)
    BACKCHECK_CORS_ORIGINS   allowed browser origins, space separated (default: the server's own)
    BACKCHECK_MAX_BODY       request body cap in bytes (default 16384), larger requests get 413
    BACKCHECK_ACTIONS_HOST   the action server's interface (default 127.0.0.1)
"""
import argparse
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Text

from backcheck import speedups
from backcheck.privacy import logs

SECRETS_DIR = Path(os.environ.get("BACKCHECK_SECRETS_DIR", Path(__file__).resolve().parents[1] / ".secrets"))
DEFAULT_MAX_BODY = 16 * 1024

logger = logging.getLogger(__name__)


def secret(name: Text, env: Optional[Text] = None, secrets_dir: Optional[Path] = None) -> Text:
    """The secret from `env`, else from .secrets/<name>, generated there (mode 600) on first use."""
    if env and os.environ.get(env):
        return os.environ[env]
    path = (secrets_dir or SECRETS_DIR) / name
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(32) + "\n")
    return path.read_text().strip()


def _option(args: List[Text], name: Text, default: Text) -> Text:
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return default


def cors_origins(args: List[Text]) -> List[Text]:
    """The configured origins, or the server's own (the page at /chat/ is served by it)."""
    configured = os.environ.get("BACKCHECK_CORS_ORIGINS", "").replace(",", " ").split()
    if configured:
        return configured
    interface, port = _option(args, "--interface", "0.0.0.0"), _option(args, "--port", "5005")
    hosts = {"localhost", "127.0.0.1"} | ({interface} if interface not in ("0.0.0.0", "::") else set())
    return [f"http://{host}:{port}" for host in sorted(hosts)]


def rasa_args(args: List[Text]) -> List[Text]:
    """`rasa run` options with the token, JWT secret and CORS added unless given."""
    args = list(args)
    if not any(a.startswith("--auth-token") for a in args):
        # one argument each: a generated value may begin with "-", which argparse would take for an option
        args += [f"--auth-token={secret('rasa_auth_token', 'RASA_AUTH_TOKEN')}"]
    if os.environ.get("RASA_JWT_SECRET") and not any(a.startswith("--jwt-secret") for a in args):
        args += [f"--jwt-secret={os.environ['RASA_JWT_SECRET']}"]
    if "--cors" not in args:
        args += ["--cors", *cors_origins(args)]
    return args


def run_rasa(args: List[Text]) -> None:
    from backcheck.privacy.store import tell_retention_period

    logs.install()
    speedups.apply()
    tell_retention_period()
    # Sanic reads SANIC_* settings when the app is made: bodies over the cap get 413 before any work.
    os.environ.setdefault("SANIC_REQUEST_MAX_SIZE", os.environ.get("BACKCHECK_MAX_BODY", str(DEFAULT_MAX_BODY)))
    from rasa.__main__ import main

    sys.argv = ["rasa", "run", *rasa_args(args)]  # in-process: the token never shows in `ps`
    main()


def action_app(package: Text = "actions"):
    """rasa_sdk's app, plus: the message being handled is registered for log redaction, and a failing action
    answers a short error instead of echoing the tracker (rasa_sdk puts the request body in its 500)."""
    from rasa_sdk.endpoint import create_app
    from sanic import response

    app = create_app(package, cors_origins=[])

    @app.middleware("request")
    async def private_values(request) -> None:
        if request.method == "POST" and request.path == "/webhook":
            try:
                call = request.json or {}
                tracker = call.get("tracker") or {}
                logs.remember(tracker.get("sender_id"), (tracker.get("latest_message") or {}).get("text"))
            except Exception:  # an unreadable body is rasa_sdk's to refuse
                pass

    @app.exception(Exception)
    async def failed(request, exception: Exception):
        action = None
        try:
            action = (request.json or {}).get("next_action")
        except Exception:
            pass
        logger.error(f"The action server failed on {action or 'a request'}", exc_info=exception)
        return response.json({"error": "the action failed", "action_name": action}, status=500)

    return app


def run_actions(argv: List[Text]) -> None:
    parser = argparse.ArgumentParser(prog="backcheck.server actions")
    parser.add_argument("--actions", default="actions")
    parser.add_argument("--port", type=int, default=5055)
    parser.add_argument("--host", default=os.environ.get("BACKCHECK_ACTIONS_HOST", "127.0.0.1"))
    parser.add_argument("--quiet", action="store_true")
    options = parser.parse_args(argv)
    logs.install()
    from rasa_sdk import utils

    utils.configure_colored_logging(logging.WARNING if options.quiet else logging.INFO)
    utils.update_sanic_log_level()
    app = action_app(options.actions)
    logger.info(f"Action server on http://{options.host}:{options.port}")
    app.run(options.host, options.port, workers=utils.number_of_sanic_workers(), access_log=False)


def supervise(argv: List[Text], pause: float = 1.0) -> int:
    """Runs the command and starts it again whenever it exits, until this process is told to stop."""
    parser = argparse.ArgumentParser(prog="backcheck.server supervise")
    parser.add_argument("--pidfile")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    options = parser.parse_args(argv)
    command = options.command[1:] if options.command[:1] == ["--"] else options.command
    state: Dict[Text, object] = {"stop": False, "child": None}

    def stop(signum, _frame) -> None:
        state["stop"] = True
        child = state["child"]
        if child is not None and child.poll() is None:
            child.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    code = 0
    while not state["stop"]:
        child = subprocess.Popen(command)
        state["child"] = child
        if options.pidfile:
            Path(options.pidfile).write_text(f"{child.pid}\n")
        code = child.wait()
        if not state["stop"]:
            print(f"[backcheck] `{' '.join(Path(c).name for c in command)}` exited with {code}; "
                  f"restarting in {pause:.0f} s", file=sys.stderr, flush=True)
            time.sleep(pause)
    return code


def main(argv: Optional[List[Text]] = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in ("rasa", "actions", "supervise"):
        sys.exit(__doc__)
    mode, rest = argv[0], argv[1:]
    if mode == "rasa":
        run_rasa(rest)
    elif mode == "actions":
        run_actions(rest)
    else:
        sys.exit(supervise(rest))


if __name__ == "__main__":
    main()
