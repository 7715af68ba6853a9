"""Handlers of the resources worker (resources.md §1-§6): parse, call the domain, persist, announce, reply.

Global resources live in `offnet`, an account's own in its account DB; the gateway has already checked
the route, the token and who may act on which account (bus.md §9), so `Path-Params.account_id` alone
picks the scope. Every write is idempotent per Msg-ID (bus.md §7.5): generated ids derive from it, and
a request that finds its own `pvt_msg_id` on the stored doc is answered from the stored state.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import structlog

from shared import api
from shared.api import ApiHandler, ApiReply, ApiRequest
from shared.bus import envelope
from shared.bus.connection import Bus
from shared.bus.errors import BusError
from shared.bus.events import publish_doc_change
from shared.couch import names
from shared.couch.client import Couch, Doc
from shared.couch.errors import Conflict, NotFound
from shared.domain import resources as domain
from shared.domain.ids import document_id
from shared.domain.listing import ListingQuery, listing_envelope, parse_listing_query, revision
from shared.domain.resources import Invalid, WriteContext

log = structlog.get_logger(__name__)

RESOURCES_DDOC = "resources"
LISTING_VIEW = "crossbar_listing"
CREDENTIALS_DDOC = "credentials"
PEER_IP_VIEW = "lookup_by_ip"
SETTINGS_DOC = "crossbar.resources"  # system_config (§7.7), Kazoo's `{"default": {...}}` layout
SWITCH_EXCHANGE = "switch"
SWITCH_CATEGORY = "switch_event"
SWITCH_RELOADS = ("reload_acls", "reload_gateways")  # in this order (§6.2)
_SIP_AUTH_ATTEMPTS = 3


def needs_sip_auth_copy(doc: Mapping[str, Any]) -> bool:
    """§6.3: a local resource that registers to its carrier (an enabled gateway) or peers with it."""
    gateways = doc.get("gateways")
    registers = isinstance(gateways, list) and any(
        isinstance(g, dict) and g.get("register") is True and g.get("enabled") is not False for g in gateways
    )
    return registers or doc.get("peer") is True


def _asks_to_peer(data: Any) -> bool:
    # `"true"` counts: lenient coercion turns it into `true` before the peer checks run (§3.4).
    return isinstance(data, dict) and data.get("peer") in (True, "true")


@dataclass(frozen=True)
class Scope:
    """Where a request's resources live: `offnet` (global) or the account's DB (local)."""

    db: str
    account_id: str | None

    @classmethod
    def of(cls, req: ApiRequest) -> Scope:
        account_id = req.path_params.get("account_id")
        return cls(names.account_db(account_id), account_id) if account_id else cls(names.OFFNET, None)

    @property
    def is_global(self) -> bool:
        return self.account_id is None

    def location(self, doc_id: str) -> str:
        """The canonical (non-alias) path of a resource (§1.2)."""
        prefix = "/v2/resources" if self.account_id is None else f"/v2/accounts/{self.account_id}/resources"
        return f"{prefix}/{doc_id}"


@dataclass(frozen=True)
class Written:
    """One saved (or removed) doc whose side effects (§6) are due."""

    doc: Doc
    rev: str
    created: bool = False
    hard_deleted: bool = False


@dataclass
class ResourcesService:
    couch: Couch
    bus: Bus | None = None

    def handlers(self) -> dict[str, ApiHandler]:
        """Event-Name (`<resource>.<verb>`, bus.md §9) -> handler."""
        return {
            "resources.get": self.get,
            "resources.put": self.create,
            "resources.post": self.replace,
            "resources.patch": self.merge,
            "resources.delete": self.delete,
            "resources_collection.put": self.create_many,
            "resources_collection.post": self.update_many,
        }

    # -- reads ----------------------------------------------------------------------------------

    async def get(self, req: ApiRequest) -> ApiReply:
        if "resource_id" in req.path_params:
            return await self.read(req)
        return await self.listing(req)

    async def read(self, req: ApiRequest) -> ApiReply:
        scope, resource_id = Scope.of(req), req.path_params["resource_id"]
        stored = await self.couch.get(scope.db, resource_id)
        if not domain.is_live_resource(stored):
            return api.bad_identifier(resource_id, req.request_id)
        assert stored is not None
        return self._shown(stored, req)

    async def listing(self, req: ApiRequest) -> ApiReply:
        listing = parse_listing_query(req.query)
        if not isinstance(listing, ListingQuery):
            return api.validation_error(listing, req.request_id)
        rows = await self._view(Scope.of(req).db, RESOURCES_DDOC, LISTING_VIEW, startkey=listing.start_key,
                                limit=listing.limit, descending=listing.descending or None)
        data, extra = listing_envelope(rows, listing)
        return api.success(data, request_id=req.request_id, **extra)

    # -- single writes (§4) ---------------------------------------------------------------------

    async def create(self, req: ApiRequest) -> ApiReply:
        scope, data = Scope.of(req), req.data
        ctx = await self._context(req, scope, [data])
        doc = domain.new_resource(data, generated_id=document_id(req.msg_id), ctx=ctx)
        if isinstance(doc, Invalid):
            return api.validation_error(doc.errors, req.request_id)
        try:
            saved = await self.couch.save(scope.db, doc)
        except Conflict:
            stored = await self.couch.get(scope.db, doc["_id"])
            if stored is None or stored.get("pvt_msg_id") != req.msg_id:
                return api.conflict(doc["_id"], req.request_id)
            saved = stored  # a redelivery of this very request (bus.md §7.5)
        await self._after_writes(scope, [Written(saved, saved["_rev"], created=True)], req)
        return self._shown(saved, req, status=201, headers={"Location": scope.location(saved["_id"])})

    async def replace(self, req: ApiRequest) -> ApiReply:
        return await self._update(req, patch=False)

    async def merge(self, req: ApiRequest) -> ApiReply:
        return await self._update(req, patch=True)

    async def _update(self, req: ApiRequest, *, patch: bool) -> ApiReply:
        """POST (§4.3) or PATCH (§4.4): load first (404 before the body), validate, save on the loaded rev."""
        scope, resource_id = Scope.of(req), req.path_params["resource_id"]
        stored = await self.couch.get(scope.db, resource_id)
        if not domain.is_live_resource(stored):
            return api.bad_identifier(resource_id, req.request_id)
        assert stored is not None
        if stored.get("pvt_msg_id") != req.msg_id:
            candidate = domain.patched(stored, req.data) if patch else req.data
            ctx = await self._context(req, scope, [candidate])
            doc = (domain.merge_resource(stored, req.data, ctx=ctx) if patch
                   else domain.replace_resource(stored, req.data, ctx=ctx))
            if isinstance(doc, Invalid):
                return api.validation_error(doc.errors, req.request_id)
            try:
                stored = await self.couch.save(scope.db, doc)
            except Conflict:
                return api.conflict(resource_id, req.request_id)  # §4.6: no retry
        await self._after_writes(scope, [Written(stored, stored["_rev"])], req)
        return self._shown(stored, req)

    async def delete(self, req: ApiRequest) -> ApiReply:
        """§4.5: soft by default; `?should_soft_delete=false` removes the doc from CouchDB."""
        scope, resource_id = Scope.of(req), req.path_params["resource_id"]
        stored = await self.couch.get(scope.db, resource_id)
        redelivered = stored is not None and stored.get("pvt_msg_id") == req.msg_id and stored.get("pvt_deleted")
        if not redelivered and not domain.is_live_resource(stored):
            return api.bad_identifier(resource_id, req.request_id)
        assert stored is not None
        shown_rev = stored["_rev"]
        if redelivered:
            written = Written(stored, stored["_rev"])
        elif (req.query_value("should_soft_delete") or "").lower() == "false":
            tombstone = {"_id": resource_id, "_rev": stored["_rev"], "_deleted": True}
            result = (await self.couch.bulk_save(scope.db, [tombstone]))[0]
            if not result.ok or result.rev is None:
                return api.conflict(resource_id, req.request_id)
            written = Written(stored, result.rev, hard_deleted=True)
        else:
            doc = domain.soft_delete(stored, ctx=self._plain_context(req, scope))
            try:
                saved = await self.couch.save(scope.db, doc)
            except Conflict:
                return api.conflict(resource_id, req.request_id)
            shown_rev = saved["_rev"]
            written = Written(saved, saved["_rev"])
        await self._after_writes(scope, [written], req)
        return api.success(domain.deleted_view(stored), request_id=req.request_id, revision=shown_rev)

    # -- collections (§5) -----------------------------------------------------------------------

    async def create_many(self, req: ApiRequest) -> ApiReply:
        scope, items = Scope.of(req), req.data
        target_ids = self._collection_target_ids(items, req.msg_id)
        stored = {k: v for k, v in (await self.couch.get_many(scope.db, target_ids)).items() if v is not None}
        replayed = self._replayed(target_ids, stored, req.msg_id)
        if replayed is not None:
            docs = replayed
        else:
            ctx = await self._context(req, scope, items if isinstance(items, list) else [])
            result = domain.create_collection(items, new_id=lambda index: document_id(req.msg_id, index),
                                              existing_ids=stored.keys(), ctx=ctx)
            if isinstance(result, Invalid):
                return api.validation_error(result.errors, req.request_id)
            saved = await self._bulk_save(scope, result, previous={}, request_id=req.request_id)
            if isinstance(saved, ApiReply):
                return saved
            docs = saved
        await self._after_writes(scope, [Written(d, d["_rev"], created=True) for d in docs], req)
        return self._collection_reply(docs, req, status=201)

    async def update_many(self, req: ApiRequest) -> ApiReply:
        scope, items = Scope.of(req), req.data
        ids = domain.collection_ids(items)
        stored = {k: v for k, v in (await self.couch.get_many(scope.db, ids)).items() if v is not None}
        replayed = self._replayed(ids, stored, req.msg_id)
        if replayed is not None:
            docs = replayed
        else:
            candidates = [*stored.values(), *(items if isinstance(items, list) else [])]
            ctx = await self._context(req, scope, candidates)
            result = domain.update_collection(items, stored_by_id=stored, ctx=ctx)
            if isinstance(result, Invalid):
                return api.validation_error(result.errors, req.request_id)
            saved = await self._bulk_save(scope, result, previous=stored, request_id=req.request_id)
            if isinstance(saved, ApiReply):
                return saved
            docs = saved
        await self._after_writes(scope, [Written(d, d["_rev"]) for d in docs], req)
        return self._collection_reply(docs, req, status=200)

    @staticmethod
    def _collection_target_ids(items: Any, msg_id: str) -> list[str]:
        """The id each item of a collection PUT would get (its own, else one from the Msg-ID)."""
        if not isinstance(items, list):
            return []
        ids: list[str] = []
        for index, item in enumerate(items):
            own = item.get("id") if isinstance(item, dict) else None
            ids.append(own if isinstance(own, str) and own else document_id(msg_id, index))
        return ids

    @staticmethod
    def _replayed(ids: list[str], stored: Mapping[str, Doc], msg_id: str) -> list[Doc] | None:
        """The stored docs when this very request already wrote every one of them (a redelivery)."""
        if not ids or any(not domain.is_live_resource(stored.get(i)) or stored[i].get("pvt_msg_id") != msg_id
                          for i in ids):
            return None
        return [stored[i] for i in dict.fromkeys(ids)]

    async def _bulk_save(self, scope: Scope, docs: list[Doc], *, previous: Mapping[str, Doc],
                         request_id: str | None) -> list[Doc] | ApiReply:
        """One `_bulk_docs` write, all or nothing (§5 step 6): when CouchDB refuses any doc, the docs that
        did save are undone (new ones removed, updated ones saved back with their previous body)."""
        results = await self.couch.bulk_save(scope.db, docs)
        refused = {str(r.id): "conflicting documents" for r in results if not r.ok}
        if not refused:
            return [{**doc, "_rev": r.rev} for doc, r in zip(docs, results, strict=True)]
        undo = [{**previous[doc["_id"]], "_rev": r.rev} if doc["_id"] in previous
                else {"_id": doc["_id"], "_rev": r.rev, "_deleted": True}
                for doc, r in zip(docs, results, strict=True) if r.ok]
        for r in await self.couch.bulk_save(scope.db, undo):
            if not r.ok:
                log.error("collection undo failed", db=scope.db, doc_id=r.id, error=r.error)
        return api.error(409, "datastore_conflict", {"errors": refused}, request_id=request_id)

    def _collection_reply(self, docs: list[Doc], req: ApiRequest, *, status: int) -> ApiReply:
        data = domain.collection_successes(docs)
        return api.success(data, status=status, request_id=req.request_id, revision=revision(data))

    # -- side effects (§6) ----------------------------------------------------------------------

    async def _after_writes(self, scope: Scope, written: Iterable[Written], req: ApiRequest) -> None:
        """Document-change events (awaited before the reply), the `sip_auth` copies of local resources,
        and the switch reloads: after every global write, after a local one only when a copy changed."""
        bus = self._bus()
        reload_switch = scope.is_global
        for item in written:
            await publish_doc_change(bus, db=scope.db, doc=item.doc, rev=item.rev, created=item.created,
                                     hard_deleted=item.hard_deleted, request_id=req.request_id)
            if scope.is_global:
                continue
            if not item.hard_deleted and domain.is_live_resource(item.doc) and needs_sip_auth_copy(item.doc):
                await self._copy_to_sip_auth(item.doc, req)
                reload_switch = True
            elif not item.created:  # a doc saved for the first time has no copy to remove
                reload_switch = await self._remove_from_sip_auth(item.doc, req) or reload_switch
        if reload_switch:
            await self._reload_switch(req.request_id)

    async def _copy_to_sip_auth(self, doc: Doc, req: ApiRequest) -> None:
        copy = {k: v for k, v in doc.items() if k != "_rev"}
        existed = False

        def upsert(current: Doc | None) -> Doc:
            nonlocal existed
            existed = current is not None
            return copy

        saved = await self.couch.update(names.SIP_AUTH, doc["_id"], upsert)
        assert saved is not None
        await publish_doc_change(self._bus(), db=names.SIP_AUTH, doc=saved, rev=saved["_rev"], created=not existed,
                                 request_id=req.request_id)

    async def _remove_from_sip_auth(self, doc: Doc, req: ApiRequest) -> bool:
        """Delete the doc's copy if there is one; True when one was deleted."""
        doc_id = doc["_id"]
        for _ in range(_SIP_AUTH_ATTEMPTS):
            current = await self.couch.get(names.SIP_AUTH, doc_id)
            # Ids are unique per DB only: a copy from another account's resource of that id is not ours.
            if current is None or current.get("pvt_account_db") != doc.get("pvt_account_db"):
                return False
            result = (await self.couch.bulk_save(names.SIP_AUTH, [
                {"_id": doc_id, "_rev": current["_rev"], "_deleted": True}]))[0]
            if result.ok and result.rev is not None:
                await publish_doc_change(self._bus(), db=names.SIP_AUTH, doc=current, rev=result.rev,
                                         created=False, hard_deleted=True, request_id=req.request_id)
                return True
        # The resource write itself succeeded; a copy that keeps changing under us is left for the next write.
        log.error("sip_auth copy not removed", doc_id=doc_id, attempts=_SIP_AUTH_ATTEMPTS)
        return False

    async def _reload_switch(self, request_id: str | None) -> None:
        """§6.2: fire-and-forget; a failed publish is logged and never fails the request."""
        bus = self._bus()
        for name in SWITCH_RELOADS:
            body = envelope.headers(bus.app_name, SWITCH_CATEGORY, name)
            if request_id:
                body["Request-ID"] = request_id
            try:
                await bus.publish(SWITCH_EXCHANGE, f"switch.{name}", body, mandatory=False)
            except BusError as exc:
                log.warning("switch reload not published", event_name=name, error=str(exc))

    # -- helpers --------------------------------------------------------------------------------

    def _bus(self) -> Bus:
        assert self.bus is not None, "the worker wires the bus before consuming"
        return self.bus

    def _shown(self, doc: Doc, req: ApiRequest, *, status: int = 200,
               headers: Mapping[str, str] | None = None) -> ApiReply:
        return api.success(domain.public_view(doc), status=status, request_id=req.request_id,
                           revision=doc.get("_rev"), headers=headers)

    def _plain_context(self, req: ApiRequest, scope: Scope) -> WriteContext:
        return WriteContext(db=scope.db, account_id=scope.account_id, now=names.gregorian_now(),
                            request_id=req.request_id, auth_account_id=req.auth_account_id, msg_id=req.msg_id)

    async def _context(self, req: ApiRequest, scope: Scope, candidates: list[Any]) -> WriteContext:
        """The write context, with the peer facts (§3.5) read only when a local doc asks to peer."""
        ctx = self._plain_context(req, scope)
        if scope.is_global or not any(_asks_to_peer(c) for c in candidates):
            return ctx
        if not await self._allow_peers():
            return ctx
        ips = sorted({ip for candidate in candidates for ip in domain.peer_lookup_ips(candidate)})
        in_use: dict[str, list[str]] = {}
        if ips:
            for row in await self._view(names.SIP_AUTH, CREDENTIALS_DDOC, PEER_IP_VIEW, keys=ips):
                in_use.setdefault(row["key"], []).append(row["value"])
        return replace(ctx, allow_peers=True, peer_ips_in_use=in_use)

    async def _allow_peers(self) -> bool:
        """§7.7 `allow_peers`, read per request (operators write it straight into CouchDB)."""
        settings = await self.couch.get(names.SYSTEM_CONFIG, SETTINGS_DOC) or {}
        defaults = settings.get("default")
        return isinstance(defaults, dict) and defaults.get("allow_peers") is True

    async def _view(self, db: str, ddoc: str, view: str, **params: Any) -> list[dict[str, Any]]:
        """A view query; a missing design doc is installed and the query retried once (§2.1)."""
        try:
            return await self.couch.view(db, ddoc, view, **params)
        except NotFound:
            kind = names.db_kind(db)
            if kind is None:
                raise
            await self.couch.install_design_docs(db, kind)
            return await self.couch.view(db, ddoc, view, **params)
