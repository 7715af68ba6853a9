"""Offnet processes: the HTTP gateway and the AMQP workers, one package each."""
