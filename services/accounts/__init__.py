"""The accounts worker: API keys, auth tokens, accounts and the account tree."""
