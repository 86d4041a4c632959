"""Benchmark BackCheck against a plain `rasa init` bot, side by side in one run, and print the ratios.

    python -m scripts.benchmark [--baseline] [--scaled] [--turns 200] [--seconds 20]   (`make benchmark`: all)

For each bot: start-up (process start to /status answering, each bot starting alone), memory (resident, Rasa plus
action server), reply latency over sequential REST turns (interleaved turn by turn with the `rasa init` bot's, so
that a change in the machine's speed moves both), throughput with 8 conversations at once, and the reply at turn 5
against turn 40 of long conversations (the last two with no other bot at work). BackCheck runs as `make run`
starts it; with --scaled also as `make run-scaled` (two instances behind nginx, PostgreSQL, Redis). Prints figures;
asserts nothing.
"""
import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Dict, List, Optional

ROOT = Path(__file__).resolve().parents[1]
RASA = str(Path(sys.executable).parent / "rasa")
TOKEN = "benchmark-token"
ENV = dict(os.environ, PYTHONPATH=str(ROOT), RASA_TELEMETRY_ENABLED="false", TF_CPP_MIN_LOG_LEVEL="3",
           RASA_AUTH_TOKEN=TOKEN)
OURS = ["tight lower back after deadlifts", "While lifting", "No, none of these", "is a back pump dangerous?", "thanks"]
OURS_LONG = OURS[:3] + ["can I train tomorrow?", "should I use ice or heat?", "why do you think so?", "thanks",
                        "is a back pump dangerous?", "how long will it last?"]
INIT = ["hello", "I am feeling great", "bye", "hi", "sad", "yes", "are you a bot?", "goodbye"]
CONCURRENT = 8


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
    urllib.request.urlopen(req, timeout=120).read()
    return (time.perf_counter() - t0) * 1000


def rss_mb(pids: List[int]) -> float:
    """Resident memory of these processes and their children."""
    total, seen, todo = 0, set(), list(pids)
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            total += int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS")))
            for task in Path(f"/proc/{pid}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, StopIteration):
            pass
    return total / 1024


def latency(bots: List[tuple], turns: int) -> List[List[float]]:
    """Sequential replies, conversation after conversation of each bot's script, the bots' turns interleaved (the
    first bot's turn 1, the second's turn 1, the second's turn 2, the first's turn 2, ...) so that all of them see
    the machine as it is then. `bots` holds (url, script) pairs."""
    run, times = random.random(), [[] for _ in bots]
    for i in range(turns):
        for k in (range(len(bots)) if i % 2 == 0 else reversed(range(len(bots)))):
            url, script = bots[k]
            times[k].append(post(url, f"seq-{i // len(script)}-{run}", script[i % len(script)]))
    return [sorted(t) for t in times]


def throughput(url: str, script: List[str], seconds: float) -> float:
    """Messages answered per second with CONCURRENT conversations going at once."""
    stop, counts = time.time() + seconds, [0] * CONCURRENT

    def user(k: int) -> None:
        n = 0
        while time.time() < stop:
            sender = f"tp-{k}-{n}-{random.random()}"
            for text in script:
                if time.time() >= stop:
                    break
                post(url, sender, text)
                counts[k] += 1
            n += 1

    threads = [threading.Thread(target=user, args=(k,)) for k in range(CONCURRENT)]
    t0 = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.perf_counter() - t0)


def long_conversations(url: str, script: List[str], runs: int = 16) -> Dict[str, float]:
    """The same messages around turn 5 and around turn 40, timed in pairs. The script, then its follow-ups (from
    the 4th message on) over and over: for our script, turns 4-9 and turns 40-45 carry the same six follow-ups.
    Each run brings one conversation to turn 39 and starts another, then times their turns alternately (turn 4
    of the new one, turn 40 of the long one, turn 5, turn 41, ...), so both see the machine as it is then."""
    cycle = len(script) - 3
    offset = -(-36 // cycle) * cycle  # the first whole number of cycles from 36 turns on

    def text(t: int) -> str:
        return script[t] if t < len(script) else script[3 + (t - 3) % cycle]

    early, late = [], []
    for r in range(runs):
        new, long = f"long-new-{r}-{random.random()}", f"long-{r}-{random.random()}"
        for t in range(3 + offset):
            post(url, long, text(t))
        for t in range(3):
            post(url, new, text(t))
        for t in range(3, 3 + cycle):
            early.append(post(url, new, text(t)))
            late.append(post(url, long, text(t + offset)))
    return {"turn5_ms": statistics.median(early), "turn40_ms": statistics.median(late)}


class Bot:
    """A bot started as `make run` starts ours (through backcheck.server) or, for `rasa init`, with `rasa run`."""

    def __init__(self, name: str, cwd: Path, model: Path, endpoints: Path, port: int, ours: bool) -> None:
        self.name, self.cwd, self.model, self.endpoints, self.port, self.ours = name, cwd, model, endpoints, port, ours
        self.url = f"http://127.0.0.1:{port}/webhooks/rest/webhook"
        self.script, self.long_script = (OURS, OURS_LONG) if ours else (INIT, INIT)
        self.procs: List[subprocess.Popen] = []

    def start(self) -> None:
        """Sets `startup` (process start to /status answering) and `memory` (Rasa plus action server, then)."""
        launcher = [sys.executable, "-m", "backcheck.server"]
        if (self.cwd / "actions").is_dir():
            actions = [*launcher, "actions"] if self.ours else [RASA, "run", "actions"]
            self.procs.append(subprocess.Popen([*actions, "--port", str(self.port + 50)], cwd=self.cwd, env=ENV,
                                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        t0 = time.perf_counter()
        rasa = [*launcher, "rasa"] if self.ours else [RASA, "run"]
        self.procs.append(subprocess.Popen(
            [*rasa, "--model", str(self.model), "--enable-api", "--port", str(self.port), "--endpoints",
             str(self.endpoints), "--credentials", str(self.cwd / "credentials.yml")],
            cwd=self.cwd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait(f"http://127.0.0.1:{self.port}/status?token={TOKEN}")
        self.startup = time.perf_counter() - t0
        if len(self.procs) > 1:
            wait(f"http://127.0.0.1:{self.port + 50}/health", 120)
        self.memory = rss_mb([p.pid for p in self.procs])

    def stop(self) -> None:
        for p in self.procs:
            p.terminate()
            p.wait(timeout=30)


class ScaledBot(Bot):
    """Ours as `make run-scaled` starts it: several instances behind nginx, PostgreSQL, Redis."""

    def __init__(self, args, tmp: Path) -> None:
        from backcheck.scale.profile import Profile
        from backcheck.scale.services import free_port

        workdir = tmp / "scaled"
        workdir.mkdir()
        workdir.chmod(0o755)
        env = dict(ENV, BACKCHECK_SECRETS_DIR=str(workdir / "secrets"), BACKCHECK_PG_PORT=str(free_port()),
                   BACKCHECK_REDIS_PORT=str(free_port()))
        self.profile = Profile(workdir, instances=args.instances, port=5305, env=env)
        self.name, self.script, self.long_script = f"backcheck x{args.instances}", OURS, OURS_LONG
        self.url = f"http://127.0.0.1:{self.profile.port}/webhooks/rest/webhook"

    def start(self) -> None:
        t0 = time.perf_counter()
        self.profile.start()
        self.startup = time.perf_counter() - t0
        self.memory = rss_mb([p.pid for p in [*self.profile.rasa, *self.profile.others]])

    def stop(self) -> None:
        self.profile.stop()


def warm_up(bot: Bot) -> None:
    for text in bot.script:
        post(bot.url, "warm-up", text)


def replies(times: List[float]) -> Dict[str, float]:
    return {"p50_ms": statistics.median(times), "p95_ms": times[int(0.95 * (len(times) - 1))]}


def alone(bot: Bot, args) -> Dict:
    """Throughput, and the reply at turn 5 against turn 40, with no other bot at work."""
    return {"throughput": throughput(bot.url, bot.script, args.seconds), **long_conversations(bot.url, bot.long_script)}


def run_load(bot: Bot, base: Optional[Bot], args) -> Dict:
    """Reply latency, interleaved with the baseline's when there is one (its figures go in "base"), then the rest."""
    warm_up(bot)
    lat, *base_lat = latency([(bot.url, bot.script)] + ([(base.url, base.script)] if base else []), args.turns)
    row = {"bot": bot.name, "startup_s": bot.startup, "memory_mb": bot.memory, **replies(lat), **alone(bot, args)}
    if base_lat:
        row["base"] = replies(base_lat[0])
    return row


def baseline(tmp: Path) -> tuple:
    subprocess.run([RASA, "init", "--no-prompt", "--init-dir", str(tmp)], cwd=tmp, env=ENV, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    models = sorted((tmp / "models").glob("*.tar.gz"))
    (tmp / "credentials.yml").write_text("rest:\n")
    return models[-1], tmp / "endpoints.yml"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", action="store_true", help="also build and measure a plain `rasa init` bot")
    ap.add_argument("--scaled", action="store_true", help="also measure the production profile")
    ap.add_argument("--instances", type=int, default=2)
    ap.add_argument("--turns", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=20)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        tmp.chmod(0o755)
        endpoints = tmp / "endpoints.yml"
        endpoints.write_text(f'action_endpoint:\n  url: "http://127.0.0.1:5155/webhook"\n  enable_selective_domain: true\n'
                             f'tracker_store:\n  type: backcheck.privacy.store.PrivateSQLTrackerStore\n'
                             f'  dialect: "sqlite"\n  db: "{tmp}/bench.db"\n')
        base = None
        if args.baseline:
            init_dir = tmp / "init"
            init_dir.mkdir()
            model, init_endpoints = baseline(init_dir)
            base = Bot("rasa init", init_dir, model, init_endpoints, 5205, False)
        bots = [Bot("backcheck", ROOT, ROOT / "models" / "backcheck.tar.gz", endpoints, 5105, True)]
        if args.scaled:
            bots.append(ScaledBot(args, tmp))
        rows = []
        try:
            if base:  # started first and alone; kept running, idle but for its interleaved turns
                base.start()
                warm_up(base)
            for bot in bots:
                bot.start()
                try:
                    rows.append(run_load(bot, base, args))
                finally:
                    bot.stop()
            if base:  # its replies as timed beside `make run`'s
                rows.append({"bot": base.name, "startup_s": base.startup, "memory_mb": base.memory,
                             **rows[0]["base"], **alone(base, args)})
        finally:
            if base:
                base.stop()
    print(f"{'bot':>14} | start-up | memory | reply p50 | p95 | {CONCURRENT} at once | turn 5 | turn 40")
    for r in rows:
        print(f"{r['bot']:>14} | {r['startup_s']:6.1f} s | {r['memory_mb']:4.0f} MB | {r['p50_ms']:6.1f} ms | "
              f"{r['p95_ms']:5.1f} ms | {r['throughput']:5.1f} msg/s | {r['turn5_ms']:5.1f} ms | {r['turn40_ms']:5.1f} ms")
    base = next((r for r in rows if r["bot"] == "rasa init"), None)
    if base:
        print("ratios against rasa init (target):")
        ours = rows[0]
        print(f"  make run:        reply p50 {ours['p50_ms'] / ours['base']['p50_ms']:.2f}x (<= 0.5), start-up "
              f"{ours['startup_s'] / base['startup_s']:.2f}x (<= 0.5), memory {ours['memory_mb'] / base['memory_mb']:.2f}x "
              f"(<= 0.75), throughput {ours['throughput'] / base['throughput']:.2f}x")
        for r in rows[1:-1]:
            print(f"  make run-scaled: throughput with {CONCURRENT} at once {r['throughput'] / base['throughput']:.2f}x "
                  f"(>= 2), reply p50 {r['p50_ms'] / r['base']['p50_ms']:.2f}x")
    for r in rows:
        if r["bot"] != "rasa init":
            print(f"  {r['bot']}: turn 40 / turn 5 = {r['turn40_ms'] / r['turn5_ms']:.2f}x (<= 1.2)")


if __name__ == "__main__":
    main()
