"""Checks BackCheck's Helm values against the upstream charts' defaults, and the deploy files against each other.

    python deploy/check_values.py        (needs PyYAML; jsonschema for the schema check; both are in .venv)

1. Every key path in deploy/helm/<chart>-values.yaml exists in deploy/helm/upstream/<chart>/values.yaml. Below a
   key whose upstream default is free-form ({}, a list or a scalar, e.g. `affinity`, `extraEnv`,
   `additionalChannelCredentials`) anything goes; a dict where upstream has a scalar (or the reverse) is an error.
2. The values merged over the defaults the way Helm does it (null deletes a default) pass the chart's
   values.schema.json.
3. Cross-file: the channels in rasa-values.yaml equal the repo's credentials.yml; its tracker and lock store equal
   deploy/endpoints.production.yml's; the action URL points at the action-server release; the retention CronJob
   uses the same image and the ConfigMap the rasa chart creates.
Exits 1 with a list of problems, else prints what it checked.
"""
import copy
import sys
from pathlib import Path
from typing import Any, Dict, List

import yaml

DEPLOY = Path(__file__).resolve().parent
ROOT = DEPLOY.parent
HELM = DEPLOY / "helm"
CHARTS = {"rasa": HELM / "rasa-values.yaml", "rasa-action-server": HELM / "rasa-action-server-values.yaml"}


def load(path: Path) -> Any:
    with open(path) as handle:
        return yaml.safe_load(handle)


def unknown_keys(ours: Any, upstream: Any, path: str = "") -> List[str]:
    """Key paths in `ours` that the upstream defaults do not have (or where a map meets a non-map)."""
    where = path or "<root>"
    if isinstance(upstream, dict) and upstream:  # a structured map: each of our keys must be one of its keys
        if not isinstance(ours, dict):
            return [] if ours is None else [f"{where}: upstream is a map ({sorted(upstream)}), ours is not"]
        problems = []
        for key, value in ours.items():
            here = f"{path}.{key}" if path else str(key)
            if key not in upstream:
                problems.append(f"{here}: no such key in the chart's values.yaml")
            else:
                problems.extend(unknown_keys(value, upstream[key], here))
        return problems
    if isinstance(ours, dict) and ours and upstream is not None and not isinstance(upstream, dict):
        return [f"{where}: ours is a map, upstream default is a {type(upstream).__name__}"]
    return []  # upstream {}, a list, a scalar or null: free-form below this key


def coalesce(defaults: Any, ours: Any) -> Any:
    """Helm's merge of user values over chart defaults: maps merge, anything else replaces, null deletes."""
    if not isinstance(defaults, dict) or not isinstance(ours, dict):
        return copy.deepcopy(ours)
    merged = copy.deepcopy(defaults)
    for key, value in ours.items():
        if value is None:
            merged.pop(key, None)
        elif key in merged:
            merged[key] = coalesce(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def schema_errors(values: Dict, schema_path: Path) -> List[str]:
    try:
        import jsonschema
    except ImportError:
        print(f"  (jsonschema not installed: {schema_path.name} not checked)")
        return []
    validator = jsonschema.Draft7Validator(load(schema_path))
    return [f"{'.'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in validator.iter_errors(values)]


def cross_file_problems(values: Dict[str, Dict]) -> List[str]:
    problems = []
    rasa, actions = values["rasa"], values["rasa-action-server"]
    settings = rasa["applicationSettings"]

    credentials = {k: v or {} for k, v in load(ROOT / "credentials.yml").items()}
    if settings["credentials"]["additionalChannelCredentials"] != credentials:
        problems.append("rasa-values.yaml additionalChannelCredentials differ from credentials.yml")

    endpoints = load(DEPLOY / "endpoints.production.yml")
    tracker = {k: v for k, v in settings["endpoints"]["trackerStore"].items() if k not in ("enabled", "login_db")}
    if tracker != endpoints["tracker_store"]:
        problems.append(f"trackerStore {tracker} != endpoints.production.yml {endpoints['tracker_store']}")
    lock = {k: str(v) for k, v in settings["endpoints"]["lockStore"].items() if k != "enabled"}
    expected_lock = {k: str(v) for k, v in endpoints["lock_store"].items() if k != "key_prefix"}
    if lock != expected_lock:  # the chart has no key_prefix key; the db must still be the same
        problems.append(f"lockStore {lock} != endpoints.production.yml {expected_lock} (key_prefix aside)")

    action_url = f"http://{actions['fullnameOverride']}:{actions['service']['port']}/webhook"
    if rasa["rasa-action-server"]["external"]["url"] != action_url:
        problems.append(f"rasa-values.yaml action server URL is not {action_url}")

    cron = load(HELM / "retention-cronjob.yaml")
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    image = f"{rasa['image']['repository']}:{rasa['image']['tag']}"
    if pod["containers"][0]["image"] != image:
        problems.append(f"retention-cronjob.yaml image is not {image}")
    configmaps = [v["configMap"]["name"] for v in pod["volumes"] if "configMap" in v]
    if configmaps != [rasa["fullnameOverride"]]:
        problems.append(f"retention-cronjob.yaml mounts {configmaps}, the rasa chart's ConfigMap is "
                        f"{rasa['fullnameOverride']}")
    secret = load(HELM / "secrets.example.yaml")
    referenced = {e["valueFrom"]["secretKeyRef"]["key"] for e in rasa["extraEnv"] if "valueFrom" in e}
    missing = sorted(referenced - set(secret["stringData"]))
    if missing:
        problems.append(f"secrets.example.yaml lacks keys that rasa-values.yaml reads: {missing}")
    return problems


def main() -> int:
    problems: List[str] = []
    merged: Dict[str, Dict] = {}
    for chart, path in CHARTS.items():
        upstream_dir = HELM / "upstream" / chart
        defaults, ours = load(upstream_dir / "values.yaml"), load(path)
        found = unknown_keys(ours, defaults)
        problems += [f"{path.name}: {p}" for p in found]
        merged[chart] = coalesce(defaults, ours)
        problems += [f"{path.name} (schema): {e}" for e in schema_errors(merged[chart], upstream_dir / "values.schema.json")]
        print(f"{path.relative_to(ROOT)}: {sum(1 for _ in walk(ours))} key paths checked against "
              f"{(upstream_dir / 'values.yaml').relative_to(ROOT)}")
    problems += cross_file_problems({chart: load(path) for chart, path in CHARTS.items()})
    if problems:
        print("PROBLEMS:\n  " + "\n  ".join(problems))
        return 1
    print("OK: every key exists upstream, the merged values pass values.schema.json, the deploy files agree")
    return 0


def walk(tree: Any, path: str = ""):
    if isinstance(tree, dict) and tree:
        for key, value in tree.items():
            yield from walk(value, f"{path}.{key}" if path else str(key))
    else:
        yield path


if __name__ == "__main__":
    sys.exit(main())
