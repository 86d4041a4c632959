"""The launcher's `rasa run` options reach Rasa's own argument parser intact."""
import pytest

from backcheck import server


@pytest.mark.parametrize("token, jwt", [("plain-token", "plain-secret"), ("-starts-with-dash", "--looks-like-an-option")])
def test_the_token_and_jwt_secret_reach_rasa_whatever_they_begin_with(monkeypatch, token, jwt):
    from rasa.cli.arguments.run import add_server_arguments
    import argparse

    monkeypatch.setenv("RASA_AUTH_TOKEN", token)
    monkeypatch.setenv("RASA_JWT_SECRET", jwt)
    monkeypatch.setenv("BACKCHECK_CORS_ORIGINS", "https://gym.example")
    parser = argparse.ArgumentParser()
    add_server_arguments(parser)
    parsed = parser.parse_args(server.rasa_args(["--port", "5005", "--enable-api"]))
    assert parsed.auth_token == token and parsed.jwt_secret == jwt
    assert parsed.cors == ["https://gym.example"] and parsed.port == 5005
