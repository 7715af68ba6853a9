"""Handlers of the numbers worker (numbers.md §1.1): parse the request, load, plan with the pure number
operations, make the outside calls, write through `NumberStore`, reply.

Every write follows §2.6: load, check, outside calls, save; a 409 on save starts again from the load, up
to `SAVE_ATTEMPTS` times in all, then answers `datastore_conflict`. Collections (§7.5) are all or nothing:
any failure answers the error map and whatever this request had already written is put back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from services.numbers.caches import NumbersCaches
from services.numbers.external import ExternalCalls, FeatureProvider
from services.numbers.listing import account_listing, fix_account
from services.numbers.phonebook import Phonebook
from services.numbers.search import NumberSearch
from shared import api
from shared.account_directory import AccountInfo
from shared.api import ApiHandler, ApiReply, ApiRequest
from shared.couch import names
from shared.couch.client import Couch
from shared.domain.number_carriers import Carrier, carrier_for
from shared.domain.number_config import KNM_OTHER
from shared.domain.number_errors import ErrorAnswer, Failure, ValidationFailure
from shared.domain.number_features import FEATURES, Feature
from shared.domain.number_listing import Listing
from shared.domain.number_phonebook import MISSING_URL
from shared.domain.number_search import parse_search_query
from shared.domain.number_states import Action
from shared.domain.numbering import classifier_answer, is_reconcilable, normalize
from shared.domain.numbers import (
    CollectionOp,
    CollectionPlan,
    NumberContext,
    NumberPlan,
    NumbersBody,
    RequestMeta,
    create_number,
    identify_number,
    move_number,
    parse_numbers_body,
    plan_collection,
    port_number,
    read_number,
    release_number,
    update_number,
)
from shared.domain.validation import describe
from shared.number_store import NumberStore, PlanResult

SAVE_ATTEMPTS = 3  # §2.6: the first try and two restarts after a conflict

Doc = dict[str, Any]
# One single-number operation, bound to its request: (number as sent, loaded doc, context) -> outcome.
Operation = Callable[[str, Doc | None, NumberContext], NumberPlan | Failure]


def _reply(answer: ErrorAnswer, req: ApiRequest) -> ApiReply:
    return api.error(answer.status, answer.message, answer.data, request_id=req.request_id)


def _outcome_reply(answer: Any, req: ApiRequest) -> ApiReply:
    """An outside party's answer (§5.4, §5.5): its data, or the error it came to."""
    return _reply(answer, req) if isinstance(answer, ErrorAnswer) else api.success(answer, request_id=req.request_id)


def _hard(req: ApiRequest) -> bool:
    """§1.3: true only for the value `true`, in any letter case."""
    return (req.query_value("hard") or "").lower() == "true"


def _listing_reply(listing: Listing | ValidationFailure, req: ApiRequest) -> ApiReply:
    if isinstance(listing, ValidationFailure):
        return _reply(listing.render(""), req)
    return api.success(listing.data, request_id=req.request_id, **listing.envelope())


@dataclass
class NumbersService:
    couch: Couch
    store: NumberStore
    caches: NumbersCaches
    # Carriers beyond the in-house `local` and `inventory`, by module name (`knm_other`).
    carriers: Mapping[str, Carrier] = field(default_factory=dict)
    # The features derived on every save (pure), and those whose data comes from outside (E911).
    features: tuple[Feature, ...] = FEATURES
    providers: tuple[FeatureProvider, ...] = ()
    # The phonebook of search, locality and city prefixes (None: not wired, as if no URL were set).
    phonebook: Phonebook | None = None
    searcher: NumberSearch = field(init=False)

    def __post_init__(self) -> None:
        self.searcher = NumberSearch(self.couch, self.store, self.caches, self.phonebook)

    def _external(self) -> ExternalCalls:
        return ExternalCalls(self.carriers, self.providers)

    def handlers(self) -> dict[str, ApiHandler]:
        """Event-Name (`<resource>.<verb>`, bus.md §9) → handler."""
        return {
            "phone_numbers.get": self.get,
            "phone_numbers.put": self.create,
            "phone_numbers.post": self.replace,
            "phone_numbers.patch": self.merge,
            "phone_numbers.delete": self.release,
            "phone_numbers_activate.put": self.activate,
            "phone_numbers_reserve.put": self.reserve,
            "phone_numbers_port.put": self.port,
            "phone_numbers_identify.get": self.identify,
            "phone_numbers_collection.put": self.collection_create,
            "phone_numbers_collection.post": self.collection_replace,
            "phone_numbers_collection.patch": self.collection_merge,
            "phone_numbers_collection.delete": self.collection_release,
            "phone_numbers_collection_activate.put": self.collection_activate,
            "phone_numbers_classifiers.get": self.classifiers,
            "phone_numbers_fix.post": self.fix,
            "phone_numbers_check.post": self.check,
            "phone_numbers_locality.post": self.locality,
            "phone_numbers_prefix.get": self.prefix,
        }

    # --- context ----------------------------------------------------------------------------------

    async def _account(self, account_id: str | None) -> AccountInfo | None:
        info = await self.caches.accounts.get(account_id) if account_id else None
        return info if info is not None and info.usable else None

    async def _context(self, req: ApiRequest, loaded: Iterable[Doc | None]) -> NumberContext | ApiReply:
        """T, A, the owners of the loaded docs and the feature policy of every account that may own them."""
        config = await self.caches.config()
        account_id = req.path_params.get("account_id", "")
        actor, target = await asyncio.gather(self._account(req.auth_account_id), self._account(account_id))
        if target is None:  # the gateway checked it; it has gone since
            return api.bad_identifier(account_id, req.request_id)
        if actor is None:
            return api.forbidden(req.request_id)
        owner_ids = {target.id} | {str(doc["pvt_assigned_to"]) for doc in loaded if doc and doc.get("pvt_assigned_to")}
        ids = sorted(owner_ids)
        owners = await asyncio.gather(*(self.caches.accounts.get(owner) for owner in ids))
        policies = await asyncio.gather(*(self.caches.feature_policy(owner, config) for owner in ids))
        return NumberContext(
            actor=actor,
            target=target,
            config=config,
            now=names.gregorian_now(),
            meta=RequestMeta(req.msg_id, req.request_id),
            owners={owner: info for owner, info in zip(ids, owners, strict=True) if info is not None},
            feature_policies=dict(zip(ids, policies, strict=True)),
            carriers=self.carriers,
            features=self.features,
        )

    @staticmethod
    def _data(req: ApiRequest) -> Doc | ApiReply:
        """§1.3: the body's `data` (a missing body is `{}`); anything but an object is a 400."""
        data = req.data
        if not isinstance(data, dict):
            return api.validation_error({"data": {"type": describe("type", data, "object")}}, req.request_id)
        return data

    def _forget(self, results: Iterable[PlanResult]) -> None:
        """Drop this process's lookups of written numbers at once (the events do it everywhere)."""
        for result in results:
            if result.ok and result.plan.writes:
                self.caches.drop_number(result.plan.number)

    # --- single numbers ---------------------------------------------------------------------------

    async def _load_one(self, number: str) -> Doc | None:
        config = await self.caches.config()
        e164 = normalize(number, config.e164_converters)
        return (await self.store.load([e164]))[e164] if is_reconcilable(e164) else None

    async def _write_one(self, req: ApiRequest, operate: Operation) -> ApiReply:
        number = req.path_params["phone_number"]
        external = self._external()
        result: PlanResult | None = None
        for _ in range(SAVE_ATTEMPTS):
            loaded = await self._load_one(number)
            ctx = await self._context(req, [loaded])
            if isinstance(ctx, ApiReply):
                return ctx
            planned = operate(number, loaded, ctx)
            if not isinstance(planned, NumberPlan):
                return _reply(planned.render(number), req)
            plan = await external.prepare(planned)
            if not isinstance(plan, NumberPlan):
                return _reply(plan.render(number), req)
            result = await self.store.apply_one(plan, request_id=req.request_id)
            self._forget([result])
            if result.ok:
                await external.saved([plan])
                return api.success(plan.answer, status=plan.status, request_id=req.request_id)
            if not result.conflict:
                break
        failure = result.failure() if result is not None else None
        assert failure is not None
        return _reply(failure.render(number), req)

    async def get(self, req: ApiRequest) -> ApiReply:
        """`phone_numbers.get` serves three paths: one number, the account listing, and the search."""
        if "phone_number" in req.path_params:
            return await self.read(req)
        if "account_id" not in req.path_params or req.query_value("prefix") is not None:
            return await self.search(req)
        return await self._listing(req)

    async def search(self, req: ApiRequest) -> ApiReply:
        """§5.2: as A (or T on `/v2/phone_numbers`), or as nobody when no token was sent."""
        config = await self.caches.config()
        query = parse_search_query(req.query, config)
        if isinstance(query, ValidationFailure):
            return _reply(query.render(""), req)
        account_id = req.path_params.get("account_id")
        account = await self._account(account_id or req.auth_account_id)
        if account_id and account is None:  # the gateway checked it; it has gone since
            return api.bad_identifier(account_id, req.request_id)
        modules = await self.caches.carrier_modules(account.id if account else None, config)
        found = await self.searcher.search(query, account, modules, msg_id=req.msg_id)
        return api.success(found, request_id=req.request_id)

    async def read(self, req: ApiRequest) -> ApiReply:
        number = req.path_params["phone_number"]
        loaded = await self._load_one(number)
        ctx = await self._context(req, [loaded])
        if isinstance(ctx, ApiReply):
            return ctx
        shown = read_number(number, loaded, ctx)
        if not isinstance(shown, dict):
            return _reply(shown.render(number), req)
        return api.success(shown, request_id=req.request_id)

    async def identify(self, req: ApiRequest) -> ApiReply:
        number = req.path_params["phone_number"]
        loaded = await self._load_one(number)
        ctx = await self._context(req, [loaded])
        if isinstance(ctx, ApiReply):
            return ctx
        found = identify_number(number, loaded, ctx)
        if isinstance(found, ErrorAnswer):
            return _reply(found, req)
        return api.success(found, request_id=req.request_id)

    async def create(self, req: ApiRequest) -> ApiReply:
        data = self._data(req)
        if isinstance(data, ApiReply):
            return data
        return await self._write_one(req, lambda number, doc, ctx: create_number(number, doc, data, ctx))

    async def port(self, req: ApiRequest) -> ApiReply:
        data = self._data(req)
        if isinstance(data, ApiReply):
            return data
        return await self._write_one(req, lambda number, doc, ctx: port_number(number, doc, data, ctx))

    async def _move(self, req: ApiRequest, action: Action) -> ApiReply:
        data = self._data(req)
        if isinstance(data, ApiReply):
            return data
        return await self._write_one(req, lambda number, doc, ctx: move_number(action, number, doc, data, ctx))

    async def reserve(self, req: ApiRequest) -> ApiReply:
        return await self._move(req, Action.RESERVE)

    async def activate(self, req: ApiRequest) -> ApiReply:
        return await self._move(req, Action.ACTIVATE)

    async def _update(self, req: ApiRequest, *, merge: bool) -> ApiReply:
        data = self._data(req)
        if isinstance(data, ApiReply):
            return data
        return await self._write_one(
            req, lambda number, doc, ctx: update_number(number, doc, data, ctx, merge=merge)
        )

    async def replace(self, req: ApiRequest) -> ApiReply:
        return await self._update(req, merge=False)

    async def merge(self, req: ApiRequest) -> ApiReply:
        return await self._update(req, merge=True)

    async def release(self, req: ApiRequest) -> ApiReply:
        hard = _hard(req)
        return await self._write_one(req, lambda number, doc, ctx: release_number(number, doc, ctx, hard=hard))

    # --- collections ------------------------------------------------------------------------------

    async def _collection(self, req: ApiRequest, op: CollectionOp, *, hard: bool = False) -> ApiReply:
        config = await self.caches.config()
        body = parse_numbers_body(req.data, config)
        if isinstance(body, ValidationFailure):
            return _reply(body.render(""), req)
        external = self._external()
        written: list[PlanResult] = []  # by this request, to put back if it fails
        pending: NumbersBody = body  # the numbers still to write (after a conflict: the conflicting ones)
        failed: dict[str, Failure] = {}
        for _ in range(SAVE_ATTEMPTS):
            loaded = await self.store.load(pending.numbers)
            ctx = await self._context(req, loaded.values())
            if isinstance(ctx, ApiReply):
                await self._undo(written, req)
                return ctx
            planned = plan_collection(op, pending, loaded, ctx, hard=hard)
            if planned.errors:
                return await self._refuse(planned, written, req)
            ready, refused = await external.prepare_all(planned.plans)
            if refused is not None:
                return await self._refuse(planned.failed(*refused), written, req)
            results = await self.store.apply(ready, request_id=req.request_id)
            self._forget(results)
            written.extend(result for result in results if result.ok)
            failed = {result.plan.number: failure for result in results if (failure := result.failure()) is not None}
            if not failed or any(not result.ok and not result.conflict for result in results):
                break
            pending = NumbersBody(tuple(entry for entry in pending.entries if entry.number in failed), pending.rest)
        if failed:
            return await self._refuse(CollectionPlan(op, (), failed), written, req)
        done = {result.plan.number: result.plan for result in written}
        await external.saved(done.values())
        in_order = tuple(done[entry.number] for entry in body.entries if entry.number in done)
        answer = CollectionPlan(op, in_order, {}).answer()
        assert not isinstance(answer, ErrorAnswer)
        status, data = answer
        return api.success(data, status=status, request_id=req.request_id)

    async def _undo(self, written: list[PlanResult], req: ApiRequest) -> None:
        if written:
            self._forget(await self.store.restore(written, request_id=req.request_id))

    async def _refuse(self, planned: CollectionPlan, written: list[PlanResult], req: ApiRequest) -> ApiReply:
        """All or nothing: put back what this request wrote, answer the failures only."""
        await self._undo(written, req)
        answer = planned.answer()
        assert isinstance(answer, ErrorAnswer)
        return _reply(answer, req)

    async def collection_create(self, req: ApiRequest) -> ApiReply:
        return await self._collection(req, CollectionOp.CREATE)

    async def collection_replace(self, req: ApiRequest) -> ApiReply:
        return await self._collection(req, CollectionOp.REPLACE)

    async def collection_merge(self, req: ApiRequest) -> ApiReply:
        return await self._collection(req, CollectionOp.MERGE)

    async def collection_release(self, req: ApiRequest) -> ApiReply:
        return await self._collection(req, CollectionOp.RELEASE, hard=_hard(req))

    async def collection_activate(self, req: ApiRequest) -> ApiReply:
        return await self._collection(req, CollectionOp.ACTIVATE)

    # --- account-wide routes ----------------------------------------------------------------------

    async def _listing(self, req: ApiRequest) -> ApiReply:
        """§7.1 (also the answer of fix, §7.3)."""
        account_id = req.path_params["account_id"]
        descendants = await self.caches.descendants(account_id)
        return _listing_reply(await account_listing(self.couch, account_id, descendants, req.query), req)

    async def classifiers(self, req: ApiRequest) -> ApiReply:
        """§3.3: the configured classifiers, or the classification of one number."""
        config = await self.caches.config()
        number = req.path_params.get("phone_number")
        if number is None:
            return api.success(dict(config.classifiers), request_id=req.request_id)
        answer = classifier_answer(number, config.classifiers, config.e164_converters)
        return api.success(answer, request_id=req.request_id)

    async def fix(self, req: ApiRequest) -> ApiReply:
        account_id = req.path_params["account_id"]
        await fix_account(self.couch, self.store, account_id, request_id=req.request_id)
        return await self._listing(req)

    async def _numbers_body(self, req: ApiRequest) -> NumbersBody | ApiReply:
        """§5.4: the body of check and locality, validated like a collection's (§7.5)."""
        body = parse_numbers_body(req.data, await self.caches.config())
        return _reply(body.render(""), req) if isinstance(body, ValidationFailure) else body

    async def check(self, req: ApiRequest) -> ApiReply:
        """§5.4: the `other` carrier's status of each number; `{}` when it cannot tell."""
        body = await self._numbers_body(req)
        if isinstance(body, ApiReply):
            return body
        statuses = await carrier_for(KNM_OTHER, self.carriers).check(body.numbers)
        return api.success(dict(statuses), request_id=req.request_id)

    async def locality(self, req: ApiRequest) -> ApiReply:
        """§5.4: the locality service's facts about each number, as sent."""
        body = await self._numbers_body(req)
        if isinstance(body, ApiReply):
            return body
        sent = [entry.as_sent for entry in body.entries]
        answer = await self.phonebook.locality(sent) if self.phonebook else MISSING_URL
        return _outcome_reply(answer, req)

    async def prefix(self, req: ApiRequest) -> ApiReply:
        """§5.5: the prefixes of a city, from the phonebook."""
        city = (req.query_value("city") or "").strip()
        if not city:
            return api.validation_error({"city": {"required": describe("required")}}, req.request_id)
        answer = await self.phonebook.city(city) if self.phonebook else MISSING_URL
        return _outcome_reply(answer, req)
