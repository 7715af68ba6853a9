"""One fixture module per concern: servers (RabbitMQ, CouchDB-API server) and the running system."""

pytest_plugins = ["tests.fixtures.servers", "tests.fixtures.system"]
