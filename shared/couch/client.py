"""The one CouchDB client of the project, on aiocouch 4.0.1's session and request helper.

Every request goes through aiocouch's `RemoteServer._request` (its aiohttp session) with paths built
here, because several of aiocouch's object APIs break on our DB names or on pouchdb-server. All of the
workarounds for pouchdb-server 4.2.0 versus CouchDB 3 (spec infra.md §4) and for aiocouch (§5) live in
this module; each is harmless against CouchDB 3:

* Content type (§4.1, §5.1): pouchdb answers `text/plain` unless asked; `_middleware` sets
  `Accept: application/json` on every request (aiocouch does not let us pass `headers=`).
* Credentials (§3.3, §5.2): taken from the URL's userinfo only, removed from the base URL (so they never
  reach logs or error messages) and sent as an `Authorization: Basic` header by `_middleware` (aiohttp's
  `BasicAuth` is deprecated in 3.14). No userinfo, no header.
* `_changes` buffering (§4.2): `_middleware` sends `Accept-Encoding: identity` on paths ending in
  `/_changes`, so a continuous feed opened through this session is not held back by gzip.
* DB names (§3.2, §4.3): pouchdb accepts anything; `_db_path` refuses names CouchDB 3 would reject and
  encodes a name exactly once (`/` → `%2F`, `+` → `%2B`).
* `_all_dbs` order (§4.4): `all_dbs` sorts.
* `DELETE` of a database (§4.7, §4.11): `delete_db` sends `HEAD` first (a `DELETE` of a missing slashed DB
  poisons the name on pouchdb) and accepts 200 and 404.
* 201 vs 202 (§4.11): every 2xx is success.
* `_all_docs` on slashed names (§5.3): `get_many` builds the (quoted) path itself.
* Reduce views and parameters (§5.4, §5.5): `view` reads `rows` itself (no `offset`/`total_rows`
  needed) and JSON-encodes `key`/`keys`/`startkey`/`endkey` (`keys` is sent by POST).
* Design docs (§5.7): `install_design_docs` PUTs `_design/<name>` with the same `_id` in the body.
* Revisions (§4.14, §5.8): taken only from response bodies, never from `HEAD` ETags.
* Idle connections: node closes keep-alive sockets after 5 s; the pool drops them after 3 s, which
  avoids reusing a socket at the moment the server closes it.
* Requests that kill pouchdb (§4.6: `_selector`/`_design` filters, anonymous DB creation): none are made.
"""

from __future__ import annotations

import base64
import copy
import json
from collections import defaultdict, deque
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote
from uuid import uuid4

import aiohttp
from aiocouch import CouchDB
from aiocouch.exception import RemoteResponseError
from aiocouch.remote import RemoteServer
from aiohttp.client_middlewares import ClientHandlerType, ClientMiddlewareType
from yarl import URL

from shared.couch import design, names
from shared.couch.errors import Conflict, CouchAuthError, CouchError, CouchUnavailable, NotFound

Doc = dict[str, Any]
Mutation = Callable[[Doc | None], Doc | None]

DEFAULT_TIMEOUT_S = 30.0
WARM_TIMEOUT_S = 600.0  # a view's first query builds its index: 8-16 s over 14k docs (infra.md §4 item 13)
_KEEPALIVE_S = 3.0  # below node's 5 s server keep-alive timeout
_JSON_PARAMS = frozenset({"key", "keys", "startkey", "endkey", "start_key", "end_key"})
_GLOBAL_DBS = (names.ACCOUNTS, names.OFFNET, names.SYSTEM_CONFIG, names.SIP_AUTH)
_SPECIAL_ID_PREFIXES = ("_design/", "_local/")  # their '/' stays literal in the URL


@dataclass(frozen=True)
class BulkResult:
    """One entry of a `_bulk_docs` answer, in the order of the docs sent."""

    id: str | None
    rev: str | None = None
    error: str | None = None  # "conflict", "forbidden", ...
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.rev is not None


def _db_path(db: str) -> str:
    if not names.is_valid_db_name(db):
        raise ValueError(f"invalid database name: {db!r}")
    return "/" + names.encoded(db)


def _doc_path(db: str, doc_id: str) -> str:
    if not doc_id:
        raise ValueError("empty document id")  # "/db/" would read the DB's info instead
    for prefix in _SPECIAL_ID_PREFIXES:
        if doc_id.startswith(prefix):
            return f"{_db_path(db)}/{prefix}{quote(doc_id[len(prefix) :], safe='')}"
    return f"{_db_path(db)}/{quote(doc_id, safe='')}"


def _view_path(db: str, ddoc: str, view: str) -> str:
    return f"{_db_path(db)}/_design/{quote(ddoc, safe='')}/_view/{quote(view, safe='')}"


def _query_params(params: Mapping[str, Any]) -> dict[str, str]:
    """View/query parameters as CouchDB expects them: keys as JSON, booleans as true/false."""
    query: dict[str, str] = {}
    for name, value in params.items():
        if value is None:
            continue
        if name in _JSON_PARAMS:
            query[name] = json.dumps(value)
        elif isinstance(value, bool):
            query[name] = "true" if value else "false"
        else:
            query[name] = str(value)
    return query


def _basic_authorization(url: URL) -> str | None:
    if url.user is None:
        return None
    token = base64.b64encode(f"{url.user}:{url.password or ''}".encode()).decode("ascii")
    return f"Basic {token}"


def _middleware(authorization: str | None) -> ClientMiddlewareType:
    async def add_headers(request: aiohttp.ClientRequest, handler: ClientHandlerType) -> aiohttp.ClientResponse:
        request.headers["Accept"] = "application/json"
        if request.url.path.endswith("/_changes"):
            request.headers["Accept-Encoding"] = "identity"
        if authorization is not None:
            request.headers["Authorization"] = authorization
        return await handler(request)

    return add_headers


class Couch:
    """An async CouchDB client for one server. `await connect()` before use, `await close()` after."""

    def __init__(self, url: str, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        parsed = URL(url)
        self._authorization = _basic_authorization(parsed)
        self._base_url = str(parsed.with_user(None).with_query(None).with_fragment(None)).rstrip("/")
        self._timeout_s = timeout_s
        self._couch: CouchDB | None = None
        self._installed: set[tuple[str, str]] = set()  # (db, kind) whose design docs this client wrote

    @property
    def url(self) -> str:
        """The server's base URL without credentials (safe to log)."""
        return self._base_url

    async def __aenter__(self) -> Couch:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def connect(self) -> None:
        """Open the session and check that the credentials have the `_admin` role (infra.md §3.3)."""
        if self._couch is not None:
            return
        self._couch = CouchDB(
            self._base_url,
            middlewares=(_middleware(self._authorization),),
            timeout=aiohttp.ClientTimeout(total=self._timeout_s),
            connector=aiohttp.TCPConnector(keepalive_timeout=_KEEPALIVE_S),
        )
        try:
            _, session = await self._request("GET", "/_session", allow=(401, 403))
            roles = (session or {}).get("userCtx", {}).get("roles", [])
            if "_admin" not in roles:
                raise CouchAuthError(
                    f"CouchDB at {self.url} refused the credentials of OFFNET_COUCH_URL or they lack the "
                    "_admin role; give an admin's user:password in the URL"
                )
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        if self._couch is not None:
            couch, self._couch = self._couch, None
            await couch.close()

    def _server(self) -> RemoteServer:
        if self._couch is None:
            raise CouchError("Couch client used before connect()")
        return self._couch._server

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        allow: Collection[int] = (),
        timeout_s: float | None = None,
    ) -> tuple[int, Any]:
        """(status, JSON body); a non-2xx status in `allow` comes back with body None, others raise."""
        kwargs: dict[str, Any] = {}
        if body is not None:
            kwargs["json"] = body
        if timeout_s is not None:
            kwargs["timeout"] = aiohttp.ClientTimeout(total=timeout_s)
        try:
            response, data = await self._server()._request(
                method, path, params=dict(params or {}), return_json=method != "HEAD", **kwargs
            )
        except RemoteResponseError as exc:
            if exc.status in allow:
                return exc.status, None
            raise self._status_error(method, path, exc) from exc
        except aiohttp.ContentTypeError as exc:
            raise CouchError(f"{method} {self.url}{path}: not a JSON answer ({exc.message})") from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise CouchUnavailable(f"{method} {self.url}{path}: {type(exc).__name__} {exc}") from exc
        return response.status, data

    def _status_error(self, method: str, path: str, exc: RemoteResponseError) -> CouchError:
        what = f"{method} {self.url}{path}: HTTP {exc.status} {exc.reason or exc.message}"
        if exc.status in (401, 403):
            return CouchAuthError(what)
        if exc.status == 404:
            return NotFound(what)
        if exc.status == 409:
            return Conflict(path, what)
        if exc.status >= 500:
            return CouchUnavailable(what)
        return CouchError(what)

    # ---- databases ---------------------------------------------------------------------------------

    async def ensure_db(self, name: str) -> bool:
        """Create the DB if missing; True when this call created it."""
        status, _ = await self._request("PUT", _db_path(name), allow=(412,))
        return status != 412

    async def db_exists(self, name: str) -> bool:
        status, _ = await self._request("HEAD", _db_path(name), allow=(404,))
        return status != 404

    async def delete_db(self, name: str) -> None:
        """Delete the DB if it exists (HEAD first: see the module docstring)."""
        self._installed = {entry for entry in self._installed if entry[0] != name}
        if await self.db_exists(name):
            await self._request("DELETE", _db_path(name), allow=(404,))

    async def all_dbs(self) -> list[str]:
        _, dbs = await self._request("GET", "/_all_dbs")
        return sorted(dbs)

    # ---- documents ---------------------------------------------------------------------------------

    async def get(self, db: str, doc_id: str) -> Doc | None:
        """The doc, or None when the DB or the doc is missing (or deleted)."""
        status, doc = await self._request("GET", _doc_path(db, doc_id), allow=(404,))
        return None if status == 404 else doc

    async def get_many(self, db: str, ids: list[str]) -> dict[str, Doc | None]:
        """Docs by id in one `_all_docs` request; missing or deleted ids map to None."""
        found: dict[str, Doc | None] = dict.fromkeys(ids)
        if not ids:
            return found
        status, data = await self._request(
            "POST",
            f"{_db_path(db)}/_all_docs",
            params={"include_docs": "true"},
            body={"keys": ids},
            allow=(404,),
        )
        if status != 404:
            for row in data["rows"]:
                found[row["key"]] = row.get("doc")
        return found

    async def save(self, db: str, doc: Doc) -> Doc:
        """Write the doc (guarded by its `_rev` when present); returns it with `_id` and the new `_rev`.

        The DB must exist (NotFound otherwise); 409 raises Conflict.
        """
        doc_id = doc.get("_id") or uuid4().hex
        body = {**doc, "_id": doc_id}
        status, data = await self._request("PUT", _doc_path(db, doc_id), body=body, allow=(409,))
        if status == 409:
            raise Conflict(doc_id)
        return {**body, "_rev": data["rev"]}

    async def update(self, db: str, doc_id: str, mutate: Mutation, *, attempts: int = 5) -> Doc | None:
        """Read-modify-write with retries on 409.

        `mutate` gets a private copy of the current doc (None when missing) and returns the doc to store,
        or None to write nothing. Returns the saved doc, or the current one when nothing was written.
        Raises Conflict when every attempt met a concurrent write.
        """
        for _ in range(attempts):
            current = await self.get(db, doc_id)
            wanted = mutate(copy.deepcopy(current))
            if wanted is None:
                return current
            wanted = {**wanted, "_id": doc_id}
            wanted.pop("_rev", None)
            if current is not None:
                wanted["_rev"] = current["_rev"]
            try:
                return await self.save(db, wanted)
            except Conflict:
                continue
        raise Conflict(doc_id, f"document update conflict: {doc_id} (after {attempts} attempts)")

    async def delete(self, db: str, doc_id: str, rev: str) -> None:
        """Delete one revision (CouchDB tombstone). 409 raises Conflict, a missing doc NotFound."""
        status, _ = await self._request("DELETE", _doc_path(db, doc_id), params={"rev": rev}, allow=(409,))
        if status == 409:
            raise Conflict(doc_id)

    async def bulk_save(self, db: str, docs: list[Doc]) -> list[BulkResult]:
        """One `_bulk_docs` write; per-doc results in order (a conflict is a result, not an exception)."""
        if not docs:
            return []
        _, rows = await self._request("POST", f"{_db_path(db)}/_bulk_docs", body={"docs": docs})
        results = [
            BulkResult(id=row.get("id"), rev=row.get("rev"), error=row.get("error"), reason=row.get("reason"))
            for row in rows
        ]
        # CouchDB answers in request order; pouchdb-server was seen answering out of order, so results
        # are put back in the docs' order by id (repeats of one id keep their relative order).
        if not all("_id" in doc for doc in docs):
            return results
        by_id: dict[str | None, deque[BulkResult]] = defaultdict(deque)
        for result in results:
            by_id[result.id].append(result)
        return [by_id[doc["_id"]].popleft() for doc in docs]

    # ---- views -------------------------------------------------------------------------------------

    async def view(self, db: str, ddoc: str, view: str, **params: Any) -> list[dict[str, Any]]:
        """Rows of a view; pass keys as Python values (`key`, `keys`, `startkey`, `endkey` are JSON-encoded).

        A missing DB gives []; a missing design doc or view raises NotFound (install, then retry).
        """
        return await self._view(db, ddoc, view, params, timeout_s=None)

    async def _view(
        self, db: str, ddoc: str, view: str, params: Mapping[str, Any], *, timeout_s: float | None
    ) -> list[dict[str, Any]]:
        path = _view_path(db, ddoc, view)
        query = _query_params({name: value for name, value in params.items() if name != "keys"})
        if "keys" in params:
            body = {"keys": params["keys"]}
            status, data = await self._request("POST", path, params=query, body=body, allow=(404,), timeout_s=timeout_s)
        else:
            status, data = await self._request("GET", path, params=query, allow=(404,), timeout_s=timeout_s)
        if status != 404:
            return list(data["rows"])
        if not await self.db_exists(db):
            return []
        self._installed = {entry for entry in self._installed if entry[0] != db}
        raise NotFound(f"view {ddoc}/{view} is missing in {db}")

    async def create_db(self, db: str, kind: str) -> bool:
        """Create a DB of a kind with its design docs; True when this call created it.

        A fresh DB gets all its design docs in one `_bulk_docs` write (account creation is on the API's
        hot path); an existing one goes through `install_design_docs`.
        """
        if not await self.ensure_db(db):
            await self.install_design_docs(db, kind)
            return False
        results = await self.bulk_save(db, design.design_docs(kind))
        if all(r.ok or r.error == "conflict" for r in results):
            self._installed.add((db, kind))
        else:
            await self.install_design_docs(db, kind)
        return True

    async def install_design_docs(self, db: str, kind: str) -> None:
        """Write the design docs of a DB kind (schemas/views/kinds.json) where they differ.

        Idempotent, and remembered per client: repeating it for the same DB costs nothing.
        """
        if (db, kind) in self._installed:
            return
        for wanted in design.design_docs(kind):

            def replace_if_changed(stored: Doc | None, wanted: Doc = wanted) -> Doc | None:
                return None if design.is_current(stored, wanted) else wanted

            await self.update(db, wanted["_id"], replace_if_changed)
        self._installed.add((db, kind))

    async def warm_views(self, db: str, kind: str) -> None:
        """Query every view of the kind once so the first real query does not build the index."""
        for doc in design.design_docs(kind):
            for ddoc, view in design.view_names(doc):
                await self._view(db, ddoc, view, {"limit": 1}, timeout_s=WARM_TIMEOUT_S)

    async def setup_global_dbs(self, *, warm: bool = False) -> None:
        """Create `accounts`, `offnet`, `system_config`, `sip_auth` with their design docs (idempotent)."""
        for db in _GLOBAL_DBS:
            kind = names.db_kind(db)
            assert kind is not None
            await self.ensure_db(db)
            await self.install_design_docs(db, kind)
            if warm:
                await self.warm_views(db, kind)
