"""Benchmark: start-up time and REST reply latency of BackCheck, optionally against a plain `rasa init` bot.

    python -m scripts.benchmark [--baseline] [--turns 60]
Prints figures; asserts nothing.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RASA = str(Path(sys.executable).parent / "rasa")
TOKEN = "benchmark-token"
ENV = dict(os.environ, PYTHONPATH=str(ROOT), RASA_TELEMETRY_ENABLED="false", TF_CPP_MIN_LOG_LEVEL="3",
           RASA_AUTH_TOKEN=TOKEN)
CONVERSATION = ["tight lower back after deadlifts", "While lifting", "No, none of these",
                "is a back pump dangerous?", "thanks"]


def wait(url: str, timeout: float = 300) -> None:
    end = time.time() + timeout
    while time.time() < end:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(url)


def post(url: str, sender: str, text: str) -> float:
    req = urllib.request.Request(url, json.dumps({"sender": sender, "message": text}).encode(),
                                 {"Content-Type": "application/json"})
    t0 = time.perf_counter()
    urllib.request.urlopen(req, timeout=60).read()
    return (time.perf_counter() - t0) * 1000


def measure(name: str, cwd: Path, model: Path, endpoints: Path, turns: int, port: int = 5105,
            ours: bool = True) -> dict:
    """Starts the bot (ours as `make run` does, through backcheck.server; `rasa init` with plain `rasa run`)."""
    procs = []
    launcher = [sys.executable, "-m", "backcheck.server"]
    actions_dir = cwd / "actions"
    if actions_dir.exists() and any(actions_dir.glob("*.py")):
        actions = [*launcher, "actions"] if ours else [RASA, "run", "actions"]
        procs.append(subprocess.Popen([*actions, "--port", str(port + 50)], cwd=cwd, env=ENV,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    t0 = time.perf_counter()
    rasa = [*launcher, "rasa"] if ours else [RASA, "run"]
    procs.append(subprocess.Popen([*rasa, "--model", str(model), "--enable-api", "--port", str(port),
                                   "--endpoints", str(endpoints), "--credentials", str(cwd / "credentials.yml")],
                                  cwd=cwd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    try:
        wait(f"http://127.0.0.1:{port}/status?token={TOKEN}")
        startup = time.perf_counter() - t0
        url = f"http://127.0.0.1:{port}/webhooks/rest/webhook?token={TOKEN}"
        lat = []
        for i in range(turns):
            lat.append(post(url, f"bench-{i // len(CONVERSATION)}", CONVERSATION[i % len(CONVERSATION)]))
        lat.sort()
        return {"bot": name, "startup_s": round(startup, 1), "p50_ms": round(statistics.median(lat), 1),
                "p95_ms": round(lat[int(0.95 * (len(lat) - 1))], 1), "turns": turns}
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=30)


def baseline(tmp: Path) -> tuple:
    subprocess.run([RASA, "init", "--no-prompt", "--init-dir", str(tmp)], cwd=tmp, env=ENV, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    models = sorted((tmp / "models").glob("*.tar.gz"))
    return models[-1], tmp / "endpoints.yml"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", action="store_true", help="also build and measure a plain `rasa init` bot")
    ap.add_argument("--turns", type=int, default=60)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        endpoints = Path(tmp) / "endpoints.yml"
        endpoints.write_text(f'action_endpoint:\n  url: "http://127.0.0.1:5155/webhook"\n'
                             f'tracker_store:\n  type: backcheck.privacy.store.PrivateSQLTrackerStore\n'
                             f'  dialect: "sqlite"\n  db: "{tmp}/bench.db"\n')
        rows = [measure("backcheck", ROOT, ROOT / "models" / "backcheck.tar.gz", endpoints, args.turns)]
        if args.baseline:
            init_dir = Path(tmp) / "init"
            init_dir.mkdir()
            model, init_endpoints = baseline(init_dir)
            shutil.copy(ROOT / "credentials.yml", init_dir / "credentials.yml")
            (init_dir / "credentials.yml").write_text("rest:\n")
            rows.append(measure("rasa init", init_dir, model, init_endpoints, args.turns, port=5205, ours=False))
    for r in rows:
        print(f"{r['bot']:>10}: start-up {r['startup_s']} s, reply p50 {r['p50_ms']} ms, p95 {r['p95_ms']} ms "
              f"over {r['turns']} REST turns")


if __name__ == "__main__":
    main()
