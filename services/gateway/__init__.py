"""The HTTP gateway: authenticates each /v2 call and turns it into one bus request."""
