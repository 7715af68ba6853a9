"""The resources worker: `/v2/resources` and `/v2/accounts/{A}/resources` (resources.md §1-§6)."""
