"""The production profile: PostgreSQL, Redis, nginx and several Rasa instances on one machine (`make run-scaled`)."""
