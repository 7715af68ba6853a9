"""Handlers of the accounts worker: each parses the request, calls the domain, persists, replies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared import api
from shared.api import ApiHandler, ApiReply, ApiRequest
from shared.auth import issue_token, new_api_key
from shared.bus.connection import Bus
from shared.bus.events import publish_doc_change
from shared.couch import names
from shared.couch.client import Couch
from shared.couch.errors import Conflict
from shared.domain import accounts as domain
from shared.domain.ids import document_id
from shared.domain.validation import validate

ACCOUNTS_DDOC = "accounts"


@dataclass
class AccountsService:
    couch: Couch
    signing_key: str
    token_ttl_s: int
    bus: Bus | None = None

    def handlers(self) -> dict[str, ApiHandler]:
        """Event-Name (`<resource>.<verb>`, bus.md §9) → handler."""
        return {
            "api_auth.put": self.api_auth,
            "accounts.get": self.read,
            "accounts.put": self.create_child,
            "accounts.post": self.replace,
            "accounts.patch": self.merge,
            "accounts.delete": self.delete,
            "api_key.get": self.api_key,
            "children.get": self.children,
            "descendants.get": self.descendants,
        }

    # -- helpers -------------------------------------------------------------------------------

    def _meta(self, req: ApiRequest) -> domain.WriteMeta:
        return domain.WriteMeta(now=names.gregorian_now(), request_id=req.request_id,
                                auth_account_id=req.auth_account_id, msg_id=req.msg_id)

    async def _announce(self, doc: dict[str, Any], *, created: bool, request_id: str | None) -> None:
        assert self.bus is not None, "the worker wires the bus before consuming"
        await publish_doc_change(self.bus, db=names.ACCOUNTS, doc=doc, rev=doc["_rev"], created=created,
                                 request_id=request_id)

    @staticmethod
    def _input(req: ApiRequest) -> dict[str, Any] | ApiReply:
        data = req.data
        if not isinstance(data, dict):
            return api.validation_error({"data": {"type": {"message": "Value is not of type object",
                                                           "value": data}}}, req.request_id)
        if domain.privileged_changes(data) and not req.auth_superduper:
            return api.forbidden(req.request_id)
        return data

    def _shown(self, doc: dict[str, Any], req: ApiRequest, status: int = 200) -> ApiReply:
        headers = {"Location": f"/v2/accounts/{doc['_id']}"} if status == 201 else None
        return api.success(domain.public_view(doc), status=status, request_id=req.request_id,
                           revision=doc.get("_rev"), headers=headers)

    async def _account(self, req: ApiRequest) -> dict[str, Any] | None:
        doc = await self.couch.get(names.ACCOUNTS, req.path_params["account_id"])
        return doc if doc and not doc.get("pvt_deleted") else None

    # -- handlers -------------------------------------------------------------------------------

    async def api_auth(self, req: ApiRequest) -> ApiReply:
        data = req.data if isinstance(req.data, dict) else {}
        _, errors = validate(data, "api_auth")
        if errors:
            return api.validation_error(errors, req.request_id)
        rows = await self.couch.view(names.ACCOUNTS, ACCOUNTS_DDOC, "listing_by_api_key",
                                     key=data["api_key"], include_docs=True)
        docs = [r["doc"] for r in rows if r.get("doc")]
        doc = next((d for d in docs if not d.get("pvt_deleted") and d.get("pvt_enabled", True)), None)
        if doc is None:
            return api.unauthorized(req.request_id)
        token = issue_token(self.signing_key, doc["_id"], self.token_ttl_s)
        info = {"account_id": doc["_id"], "name": doc.get("name"),
                "is_reseller": bool(doc.get("pvt_is_reseller", False)),
                "superduper_admin": bool(doc.get("pvt_superduper_admin", False))}
        return api.success(info, status=201, request_id=req.request_id, auth_token=token)

    async def read(self, req: ApiRequest) -> ApiReply:
        doc = await self._account(req)
        if doc is None:
            return api.bad_identifier(req.path_params["account_id"], req.request_id)
        return self._shown(doc, req)

    async def create_child(self, req: ApiRequest) -> ApiReply:
        data = self._input(req)
        if isinstance(data, ApiReply):
            return data
        _, errors = validate(domain.candidate_for_validation(None, data, merge=False), "accounts")
        if errors:
            return api.validation_error(errors, req.request_id)
        parent = await self._account(req)
        if parent is None:
            return api.bad_identifier(req.path_params["account_id"], req.request_id)
        account_id = document_id(req.msg_id)
        db = names.account_db(account_id)
        # The account DB exists before the account becomes visible, so nothing sees an account without it.
        await self.couch.create_db(db, "account")
        doc = domain.new_account(account_id, data, parent_tree=[*parent.get("pvt_tree", []), parent["_id"]],
                                 api_key=new_api_key(), meta=self._meta(req), db=db)
        try:
            saved = await self.couch.save(names.ACCOUNTS, doc)
        except Conflict:
            stored = await self.couch.get(names.ACCOUNTS, account_id)
            if stored and stored.get("pvt_msg_id") == req.msg_id:  # a redelivery of this very request
                return self._shown(stored, req, 201)
            return api.conflict(account_id, req.request_id)
        await self._announce(saved, created=True, request_id=req.request_id)
        return self._shown(saved, req, 201)

    async def _update(self, req: ApiRequest, *, merge: bool) -> ApiReply:
        data = self._input(req)
        if isinstance(data, ApiReply):
            return data
        stored = await self._account(req)
        if stored is None:
            return api.bad_identifier(req.path_params["account_id"], req.request_id)
        _, errors = validate(domain.candidate_for_validation(stored, data, merge=merge), "accounts")
        if errors:
            return api.validation_error(errors, req.request_id)
        meta = self._meta(req)

        def change(current: dict[str, Any] | None) -> dict[str, Any] | None:
            if current is None or current.get("pvt_msg_id") == req.msg_id:
                return None  # gone, or this request was already applied (redelivery)
            return domain.updated_account(current, data, merge=merge, meta=meta)

        saved = await self.couch.update(names.ACCOUNTS, stored["_id"], change)
        if saved is None:
            current = await self._account(req)
            if current is None:
                return api.bad_identifier(req.path_params["account_id"], req.request_id)
            return self._shown(current, req)
        await self._announce(saved, created=False, request_id=req.request_id)
        return self._shown(saved, req)

    async def replace(self, req: ApiRequest) -> ApiReply:
        return await self._update(req, merge=False)

    async def merge(self, req: ApiRequest) -> ApiReply:
        return await self._update(req, merge=True)

    async def delete(self, req: ApiRequest) -> ApiReply:
        stored = await self._account(req)
        if stored is None:
            return api.bad_identifier(req.path_params["account_id"], req.request_id)
        if not stored.get("pvt_tree"):
            return api.forbidden(req.request_id)  # the master (root) account cannot be deleted
        if await self._descendant_docs(stored["_id"], direct=True):
            return api.validation_error({"account": {"has_descendants": {
                "message": "account has descendants; delete them first"}}}, req.request_id)
        meta = self._meta(req)

        def change(current: dict[str, Any] | None) -> dict[str, Any] | None:
            if current is None or current.get("pvt_deleted"):
                return None
            return domain.soft_deleted(current, meta)

        saved = await self.couch.update(names.ACCOUNTS, stored["_id"], change)
        if saved is not None:
            await self._announce(saved, created=False, request_id=req.request_id)
        shown = domain.public_view(saved or stored)
        shown["_read_only"]["deleted"] = True
        return api.success(shown, request_id=req.request_id, revision=(saved or stored).get("_rev"))

    async def api_key(self, req: ApiRequest) -> ApiReply:
        doc = await self._account(req)
        if doc is None:
            return api.bad_identifier(req.path_params["account_id"], req.request_id)
        return api.success({"api_key": doc["pvt_api_key"]}, request_id=req.request_id)

    async def _descendant_docs(self, account_id: str, *, direct: bool) -> list[dict[str, Any]]:
        view = "listing_by_parent" if direct else "listing_by_descendants"
        rows = await self.couch.view(names.ACCOUNTS, ACCOUNTS_DDOC, view, startkey=[account_id],
                                     endkey=[account_id, {}], include_docs=True)
        return [r["doc"] for r in rows if r.get("doc") and not r["doc"].get("pvt_deleted")]

    async def children(self, req: ApiRequest) -> ApiReply:
        docs = await self._descendant_docs(req.path_params["account_id"], direct=True)
        return api.success([domain.summary(d) for d in docs], request_id=req.request_id)

    async def descendants(self, req: ApiRequest) -> ApiReply:
        docs = await self._descendant_docs(req.path_params["account_id"], direct=False)
        return api.success([domain.summary(d) for d in docs], request_id=req.request_id)
