"""The account tree the number-domain unit tests share.

M master (superduper) ── R reseller (may add numbers) ── C, C2 ;  M ── U
"""

from __future__ import annotations

from shared.domain.number_states import AccountView

M = AccountView("m" * 32, (), superduper_admin=True)
R = AccountView("r" * 32, (M.id,), is_reseller=True, wnm_allow_additions=True)
C = AccountView("c" * 32, (M.id, R.id))
C2 = AccountView("d" * 32, (M.id, R.id))
U = AccountView("e" * 32, (M.id,))
ACCOUNTS = {a.id: a for a in (M, R, C, C2, U)}
