"""Chat with a running BackCheck in the terminal, over the REST channel (stdlib only).

    python -m scripts.chat --url http://localhost:5005
Buttons are numbered: type the number to click one.
"""
import argparse
import json
import re
import urllib.error
import urllib.request
import uuid


def send(url: str, sender: str, text: str) -> list:
    req = urllib.request.Request(f"{url}/webhooks/rest/webhook", json.dumps({"sender": sender, "message": text}).encode(),
                                 {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read() or b"[]")


def render(text: str) -> str:
    return re.sub(r"\*\*(.+?)\*\*", "\033[1m\\1\033[0m", text or "")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", default="http://localhost:5005")
    args = ap.parse_args()
    sender = f"shell-{uuid.uuid4().hex[:8]}"
    buttons: list = []
    print("BackCheck - describe your back discomfort (Ctrl-D to quit).")
    while True:
        try:
            text = input("you> ").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return
        if text.isdigit() and 0 < int(text) <= len(buttons):
            text = buttons[int(text) - 1]["payload"]
        try:
            messages = send(args.url.rstrip("/"), sender, text)
        except (urllib.error.URLError, OSError) as exc:
            print(f"(can't reach BackCheck at {args.url}: {exc}; is `make run` going?)")
            continue
        buttons = []
        for m in messages:
            print("bot>", render(m.get("text", "")).replace("\n", "\n     "))
            for b in m.get("buttons") or []:
                buttons.append(b)
                print(f"     [{len(buttons)}] {b['title']}")


if __name__ == "__main__":
    main()
