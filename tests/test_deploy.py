"""The deployment artefacts agree with the upstream Helm charts and with each other (deploy/VALIDATION.md)."""
import subprocess
import sys
from pathlib import Path

import yaml

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def test_helm_values_exist_upstream_and_the_deploy_files_agree():
    check = subprocess.run([sys.executable, str(DEPLOY / "check_values.py")], capture_output=True, text=True,
                           timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "OK" in check.stdout


def test_compose_runs_two_rasa_instances_behind_nginx_with_shared_state():
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    services = compose["services"]
    rasa = [name for name in services if name.startswith("rasa")]
    assert len(rasa) >= 2
    for name in rasa:
        env = services[name].get("environment", {})
        keys = set(env) if isinstance(env, dict) else {e.split("=")[0] for e in env}
        assert {"RASA_AUTH_TOKEN", "BACKCHECK_SESSION_KEY", "BACKCHECK_REDIS_URL"} <= keys, name
    assert {"postgres", "redis", "nginx"} <= set(services)
