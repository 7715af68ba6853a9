"""The numbers worker: `/v2/.../phone_numbers` (numbers.md) and the AMQP number lookup (README §6.2)."""
