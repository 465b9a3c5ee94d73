"""Large batches answered column-wise: the rules of :mod:`~consentgate.core.decide` over
NumPy arrays, one pass per (purpose, time) rather than one walk per question.

The questions of a batch that share a purpose and a time are answered together from the
world's :class:`~consentgate.core.columns.Columns`: which items exist and are erased,
the terms in force per account, the covering grants per (terms, kind), each needed
person's consent state, each effective setting and each meeting's notices are arrays;
then every question's decision is assembled from them, with the same reasons, messages
and basis as :class:`~consentgate.core.decide.Evaluator` gives. An item made from items
that are themselves made from others is handed to the evaluator.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from itertools import repeat
from operator import add, itemgetter
from typing import Any

import numpy as np

from ..model.times import format_micros, to_micros
from .columns import NEVER, Columns
from .consent import consent_sentence, purpose_lineage
from .decide import Evaluator, Outcome, _new, _notice_missing, _unique
from .decision import Decision, Reason
from .policy import Policy
from .records import CONSENT, NOTICE, SETTING, condition_check
from .settings import EffectiveSetting, setting_off
from .signals import reserves_purpose
from .terms import terms_in_force
from .world import World

Row = tuple[Any, ...]
# emit(positions, allowed, reasons, bases): see ``_Batch._emitter``.
Emit = Callable[[list[int], bool, Iterable[Row], Iterable[Row]], None]

_HOLDS: Outcome = ((), ())
_REASONS, _EVIDENCE = itemgetter(0), itemgetter(1)  # of an Outcome
_CONSENT_CODES = (None, "consent.refused", "consent.withdrawn", "consent.expired", "consent.not_self",
                  "consent.missing")
_MISSING, _NOT_SELF, _EXPIRED = 5, 4, 3
_LEVELS = ("account_lock", "group_lock", "user", "group", "account", "default")


def decide_columnar(world: World, questions: Sequence[tuple[str, str, datetime]], policy: Policy) -> list[Decision]:
    """Decide each question, in order, column-wise (see the module's description).

    Raises:
        ValueError: a question's ``at`` has no time zone.
    """
    answers: list[Any] = [None] * len(questions)
    if not questions:
        return answers
    columns = world.columns()
    items, purposes, ats = zip(*questions, strict=True)
    rows = columns.rows_of(items)
    # Questions grouped by (purpose, time): equal instants share a group, whatever their zone.
    times: dict[datetime, int] = {}
    for at in dict.fromkeys(ats):
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError("the time of a decision must carry a time zone")
        times[at] = to_micros(at)
    moments = {t: n for n, t in enumerate(dict.fromkeys(times.values()))}
    names = {purpose: n for n, purpose in enumerate(dict.fromkeys(purposes))}
    time_codes = {at: moments[t] for at, t in times.items()}
    keys = np.fromiter(map(names.__getitem__, purposes), np.int64, len(purposes)) * len(moments)
    keys += np.fromiter(map(time_codes.__getitem__, ats), np.int64, len(ats))
    order = np.argsort(keys, kind="stable")
    bounds = np.flatnonzero(np.diff(keys[order])) + 1
    purpose_of = list(names)
    instant_of = list(moments)
    batch = _Batch(world, columns, policy)
    for members in np.split(order, bounds):
        key = int(keys[members[0]])
        purpose, t = purpose_of[key // len(moments)], instant_of[key % len(moments)]
        batch.answer(items, ats, members, rows[members], purpose, t, answers)
    return answers


class _Batch:
    """What one batch shares between its (purpose, time) groups."""

    def __init__(self, world: World, columns: Columns, policy: Policy) -> None:
        self.world, self.columns, self.policy = world, columns, policy
        self.digest = policy.digest
        self.self_only = np.asarray([region in policy.self_consent_only_regions for region in columns.regions]
                                    + [False], dtype=bool)
        self.evaluator: Evaluator | None = None
        self.setting_outcomes: dict[tuple[Any, ...], Outcome] = {}
        self.notice_outcomes: dict[tuple[str, int], Outcome] = {}

    def _fallback(self, item: str, purpose: str, at: datetime) -> Decision:
        if self.evaluator is None:
            self.evaluator = Evaluator(self.world, self.policy)
        return self.evaluator.decide(item, purpose, at)

    def _emitter(self, items: Sequence[str], ats: Sequence[datetime], purpose: str, answers: list[Any]) -> Emit:
        """A function that makes the decisions of many questions of this group at once.

        ``emit(positions, allowed, reasons, bases)`` puts at each question's position in
        ``answers`` its decision, taking its reasons and basis in turn from the two
        iterables; the loop runs in C, as ``map`` and ``zip`` do.
        """
        get_item, get_at, put, digest = items.__getitem__, ats.__getitem__, answers.__setitem__, self.digest

        def emit(positions: list[int], allowed: bool, reasons: Iterable[Row], bases: Iterable[Row]) -> None:
            made = map(_new, repeat(Decision), zip(map(get_item, positions), repeat(purpose), map(get_at, positions),
                                                   repeat(allowed), reasons, bases, repeat(digest)))
            deque(map(put, positions, made), maxlen=0)

        return emit

    # -- one (purpose, time) group -----------------------------------------------------

    def answer(self, items: Sequence[str], ats: Sequence[datetime], members: np.ndarray, rows: np.ndarray,
               purpose: str, t: int, answers: list[Any]) -> None:
        c = self.columns
        digest = self.digest
        positions = members.tolist()
        # Sources of derived items join the group as extra rows, whose verdicts decide
        # whether their derived items may use them.
        derived = np.flatnonzero((rows >= 0) & c.item_derived[np.maximum(rows, 0)]).tolist()
        made_from = [c.records[rows[j]] for j in derived]
        source_row = iter(c.rows_of([source for record in made_from for source in record.sources]).tolist())
        source_rows: dict[int, list[int]] = {}
        handed: set[int] = set()
        extra: list[int] = []
        for j, record in zip(derived, made_from, strict=True):
            mine = []
            for source, row in zip(record.sources, source_row, strict=False):
                mine.append(len(positions) + len(extra))
                extra.append(row)
                if source == record.id or (row >= 0 and c.item_derived[row]):
                    handed.add(j)
            source_rows[j] = mine
        all_rows = np.concatenate((rows, np.asarray(extra, dtype=np.int64))) if extra else rows
        state = _Group(self, all_rows, purpose, t)
        reserves = reserves_purpose(purpose)
        asked = len(positions)
        status = state.status[:asked]
        emit = self._emitter(items, ats, purpose, answers)
        # Standalone denials: one reason per item, account or (terms, kind).
        as_of = format_micros(t)
        for j in np.flatnonzero(status == 0).tolist():
            position = positions[j]
            item = items[position]
            reason = Reason("item.unknown", f"no item {item} exists as of {as_of}")
            answers[position] = Decision(item, purpose, ats[position], False, (reason,), (), digest)
        for j in np.flatnonzero(status == 1).tolist():
            position = positions[j]
            item = items[position]
            reason = Reason("item.deleted", f"{item} was erased at {format_micros(int(c.item_erased[rows[j]]))}")
            answers[position] = Decision(item, purpose, ats[position], False, (reason,), (), digest)
        for code, reason_of in ((2, state.no_terms), (3, state.no_grant)):
            chosen = np.flatnonzero(status == code)
            if not len(chosen):
                continue
            _, first, inverse = np.unique((state.account if code == 2 else state.pattern)[chosen],
                                          return_index=True, return_inverse=True)
            reasons = [(reason_of(j, as_of),) for j in chosen[first].tolist()]
            emit(members[chosen].tolist(), False, map(reasons.__getitem__, inverse.reshape(-1).tolist()), repeat(()))
        # Verdicts: the plain items first, then those with signals or sources.
        ruled = status == 4
        special = state.reserved[:asked] | state.derived_row[:asked]
        verdict = state.verdict
        plain = ruled & ~special
        for index, pattern in enumerate(state.patterns):
            if not (pattern and pattern[1]):
                continue
            chosen = plain & (state.pattern[:asked] == index)
            if not chosen.any():
                continue
            record, grants = pattern
            if len(grants) > 1:
                for j in np.flatnonzero(chosen).tolist():
                    position = positions[j]
                    failing, basis = verdict(j)
                    answers[position] = (
                        _new(Decision, (items[position], purpose, ats[position], False, failing, (), digest))
                        if basis is None
                        else _new(Decision, (items[position], purpose, ats[position], True, (), basis, digest)))
                continue
            # One grant: where every condition holds, its section and their evidence;
            # elsewhere the reasons of each condition that fails, in order.
            requires = grants[0].requires
            holds = chosen.copy()
            for condition in requires:
                holds &= state.ok[condition][:asked]
            good = np.flatnonzero(holds)
            good_rows = good.tolist()
            bases: Iterator[tuple[Any, ...]] = repeat((grants[0].basis,))
            for condition in requires:
                bases = map(add, bases, map(_EVIDENCE, map(state.outcomes[condition].__getitem__, good_rows)))
            emit(members[good].tolist(), True, repeat(()), bases)
            bad = np.flatnonzero(chosen & ~holds)
            bad_rows = bad.tolist()
            failing_of: Iterator[tuple[Any, ...]] = repeat(())
            for condition in requires:
                failing_of = map(add, failing_of, map(_REASONS, map(state.outcomes[condition].__getitem__, bad_rows)))
            emit(members[bad].tolist(), False, failing_of, repeat(()))
        usable = (state.holds & ~(state.reserved & reserves) & ~state.derived_row).tolist()
        for j in np.flatnonzero(ruled & special).tolist():
            position = positions[j]
            item, at = items[position], ats[position]
            if j in handed:
                answers[position] = self._fallback(item, purpose, at)
                continue
            failing, basis = verdict(j)
            record = c.records[rows[j]]
            more: list[Reason] = []
            if record.reservation is not None and reserves:
                more.append(Reason("signal.reserved", f"{item} carries a do-not-train signal ({record.reservation})"))
            used = []
            for source, extra_row in zip(record.sources, source_rows.get(j, ()), strict=False):
                if usable[extra_row]:
                    used.append({"source": source})
                else:
                    message = f"{item} was made from {source}, which may not be used for {purpose}"
                    more.append(Reason("source.ineligible", message, source=source))
            if basis is None:
                decision = Decision(item, purpose, at, False, _unique(failing + tuple(more)), (), digest)
            elif more:
                decision = Decision(item, purpose, at, False, _unique(tuple(more)), (), digest)
            else:
                decision = Decision(item, purpose, at, True, (), basis + tuple(used), digest)
            answers[position] = decision


class _Group:
    """The arrays of one (purpose, time) group of rows."""

    def __init__(self, batch: _Batch, rows: np.ndarray, purpose: str, t: int) -> None:
        c = batch.columns
        self.batch, self.c, self.purpose, self.t = batch, c, purpose, t
        found = rows >= 0
        r = np.maximum(rows, 0)
        self.rows = rows
        known = found & (c.item_created[r] <= t)
        erased = known & (c.item_erased[r] <= t)
        self.account = c.item_account[r]
        self.kind = c.item_kind[r]
        self.subject = c.item_subject[r]
        self.meeting = c.item_meeting[r]
        self.reserved = found & c.item_reserved[r]
        self.derived_row = found & c.item_derived[r]
        live = known & ~erased
        # The terms in force, per account of the group.
        self.versions: list[Any] = []
        version_of = np.full(len(c.accounts) + 1, -1, dtype=np.int64)
        numbered: dict[str, int] = {}
        for account in np.unique(self.account[live]).tolist():
            record = terms_in_force(batch.world, c.accounts.names[account], t)
            if record is not None:
                number = numbered.get(record.version)
                if number is None:
                    number = numbered[record.version] = len(self.versions)
                    self.versions.append(record)
                version_of[account] = number
        version = np.where(live, version_of[self.account], -1)
        # The grants covering (terms, kind); a pattern per distinct pair.
        n_kinds = len(c.kinds) + 1
        combo = version * n_kinds + self.kind
        with_terms = live & (version >= 0)
        combos, pattern = np.unique(np.where(with_terms, combo, -1), return_inverse=True)
        self.patterns: list[tuple[Any, ...]] = []
        for value in combos.tolist():
            if value < 0:
                self.patterns.append(())
                continue
            record = self.versions[value // n_kinds]
            grants = batch.world.covering_grants(record.version, purpose, c.kinds.names[value % n_kinds])
            self.patterns.append((record, grants))
        self.pattern = pattern.reshape(-1)
        self.pattern_list = self.pattern.tolist()
        granted = np.asarray([bool(p) and bool(p[1]) for p in self.patterns], dtype=bool)[self.pattern]
        status = np.full(len(rows), 4, dtype=np.int8)
        status[with_terms & ~granted] = 3
        status[live & (version < 0)] = 2
        status[erased] = 1
        status[~known] = 0
        self.status = status
        self.version = version
        # Each condition's outcome, for the rows whose grants need it.
        self.ok: dict[str, np.ndarray] = {}
        self.outcomes: dict[str, list[Any]] = {}
        needs: dict[str, np.ndarray] = {}
        for index, p in enumerate(self.patterns):
            if not p:
                continue
            for grant in p[1]:
                for condition in grant.requires:
                    mask = needs.get(condition)
                    if mask is None:
                        mask = needs[condition] = np.zeros(len(self.patterns), dtype=bool)
                    mask[index] = True
        for condition, mask in needs.items():
            rows_needing = np.flatnonzero(mask[self.pattern] & (status == 4))
            _, what, argument = condition_check(condition)
            if what == CONSENT:
                self._consent(rows_needing)
            elif what == SETTING:
                self._setting(condition, argument, rows_needing)
            elif what == NOTICE:
                self._notice(condition, argument, rows_needing)
            else:
                raise ValueError(f"unknown condition {condition!r}")
        # Whether some grant holds, per row.
        holds = np.zeros(len(rows), dtype=bool)
        for index, p in enumerate(self.patterns):
            if not p or not p[1]:
                continue
            members = self.pattern == index
            any_grant = np.zeros(len(rows), dtype=bool)
            for grant in p[1]:
                every = members.copy()
                for condition in grant.requires:
                    every &= self.ok[condition]
                any_grant |= every
            holds |= any_grant & members
        self.holds = holds & (status == 4)

    # -- standalone denials ------------------------------------------------------------

    def no_terms(self, j: int, as_of: str) -> Reason:
        account = self.c.accounts.names[self.account[j]]
        return Reason("terms.not_accepted", f"account {account} has accepted no terms in force at {as_of}")

    def no_grant(self, j: int, as_of: str) -> Reason:
        record = self.versions[self.version[j]]
        kind = self.c.kinds.names[self.kind[j]]
        return Reason("purpose.not_granted", f"terms {record.version} grant no use of {kind} for {self.purpose}")

    # -- the verdict of one row ----------------------------------------------------------

    def verdict(self, j: int) -> tuple[tuple[Reason, ...], tuple[dict[str, Any], ...] | None]:
        """(failing reasons, None) or ((), basis) for row ``j``, as Evaluator._verdict.

        Plain items of single-grant terms are assembled in bulk by ``_Batch.answer``;
        this serves items with signals or sources and terms with several grants.
        """
        record, grants = self.patterns[self.pattern_list[j]]
        failing: list[Reason] = []
        for grant in grants:
            holds = True
            basis: list[dict[str, Any]] = [grant.basis]
            for condition in grant.requires:
                reasons, evidence = self.outcomes[condition][j]
                if reasons:
                    holds = False
                    failing.extend(reasons)
                else:
                    basis.extend(evidence)
            if holds:
                return (), tuple(basis)
        return (_unique(tuple(failing)) if len(grants) > 1 else tuple(failing)), None

    # -- conditions ----------------------------------------------------------------------

    def _consent(self, rows: np.ndarray) -> None:
        c, t = self.c, self.t
        owner = self.subject[rows]
        meeting = self.meeting[rows]
        m = np.maximum(meeting, 0)
        length = np.where(meeting >= 0, c.meeting_start[m + 1] - c.meeting_start[m], 0)
        local = np.repeat(np.arange(len(rows)), length)
        offsets = np.arange(int(length.sum())) - np.repeat(np.cumsum(length) - length, length)
        people = c.meeting_subjects[np.repeat(c.meeting_start[m], length) + offsets]
        keep = people != owner[local]
        has_owner = np.flatnonzero(owner >= 0)
        pair_row = np.concatenate((has_owner, local[keep]))
        pair_subject = np.concatenate((owner[has_owner], people[keep])).astype(np.int64)
        # Owners come first and meeting subjects follow in their order, so a stable sort
        # by row alone puts each row's people in the evaluator's order.
        order = np.argsort(pair_row, kind="stable")
        pair_row, pair_subject = pair_row[order], pair_subject[order]
        kind = self.kind[rows][pair_row]
        pair_meeting = meeting[pair_row]
        best = np.full(len(pair_row), -1, dtype=np.int64)
        best_at = np.full(len(pair_row), -1, dtype=np.int64)
        best_arrival = np.full(len(pair_row), -1, dtype=np.int64)
        variants = [np.full(len(pair_row), -1)]
        if c.limited:
            variants.append(pair_meeting)
        for granted in purpose_lineage(self.purpose):
            p = c.purposes.index.get(granted)
            if p is None:
                continue
            for kind_set, holds in enumerate(c.set_holds):
                chosen = np.flatnonzero(holds[kind])
                if not len(chosen):
                    continue
                for where in variants:
                    keys = c.consent_key(pair_subject[chosen], p, kind_set, where[chosen])
                    found = c.consent_latest.find(keys, t)
                    hit = found >= 0
                    safe = np.maximum(found, 0)
                    at, arrival = c.consent_at[safe], c.consent_arrival[safe]
                    mine_at, mine_arrival = best_at[chosen], best_arrival[chosen]
                    better = hit & ((at > mine_at) | ((at == mine_at) & (arrival > mine_arrival)))
                    take = chosen[better]
                    best[take] = found[better]
                    best_at[take] = at[better]
                    best_arrival[take] = arrival[better]
        safe = np.maximum(best, 0)
        code = np.zeros(len(pair_row), dtype=np.int8)
        self_only = self.batch.self_only[self.account[rows][pair_row]]
        code[self_only & ~c.consent_self[safe]] = _NOT_SELF
        code[c.consent_expires[safe] <= t] = _EXPIRED
        code[c.consent_status[safe] == 2] = 2
        code[c.consent_status[safe] == 1] = 1
        code[best < 0] = _MISSING
        failing_rows = np.zeros(len(rows), dtype=bool)
        failing_rows[pair_row[code != 0]] = True
        counts = np.bincount(pair_row, minlength=len(rows))
        ok = ~failing_rows & (counts > 0)
        full = np.zeros(len(self.rows), dtype=bool)
        full[rows] = ok
        self.ok["consent"] = full
        # The outcomes, as the evaluator writes them, made in C loops where they can be.
        outcomes: list[Any] = [None] * len(self.rows)
        put = outcomes.__setitem__
        records = c.consent_records
        # Rows whose consents hold: one evidence entry per consent record, shared by every
        # decision that relies on it, and each row's entries in its people's order.
        good = np.flatnonzero(ok)
        good_pairs = np.flatnonzero(ok[pair_row])
        relied, first, inverse = np.unique(best[good_pairs], return_index=True, return_inverse=True)
        subjects = map(c.people.names.__getitem__, pair_subject[good_pairs[first]].tolist())
        made = [{"consent": consent, "subject": subject}
                for consent, subject in zip(c.consent_ids(relied), subjects, strict=True)]
        entries = list(map(made.__getitem__, inverse.reshape(-1).tolist()))
        ends = np.cumsum(counts[good])
        spans = map(slice, (ends - counts[good]).tolist(), ends.tolist())
        deque(map(put, rows[good].tolist(), zip(repeat(()), map(tuple, map(entries.__getitem__, spans)))), maxlen=0)
        # Rows that name no person.
        for local_row in np.flatnonzero(counts == 0).tolist():
            j = int(rows[local_row])
            item = c.records[self.rows[j]].id
            message = f"{item} names no person whose consent to {self.purpose} could count"
            put(j, ((Reason("consent.missing", message),), ()))
        # Rows whose consents fail: a sentence per failing person, in their order. Most
        # failing states of a batch are new, so the sentence is made without the cache.
        bad_pairs = np.flatnonzero(code != 0)
        if len(bad_pairs):
            bad_rows = rows[pair_row[bad_pairs]]
            codes = code[bad_pairs]
            # Read, and ignored for consent.missing, where no record was found.
            found = np.maximum(best[bad_pairs], 0)
            by: list[str | None] = [None] * len(codes)
            method: list[str | None] = [None] * len(codes)
            for pair in np.flatnonzero(codes == _NOT_SELF).tolist():
                event = records[found[pair]].event
                by[pair], method[pair] = event.by, event.method
            meeting_names = c.meetings.names
            reasons = list(map(
                consent_sentence, map(_CONSENT_CODES.__getitem__, codes.tolist()),
                map(c.people.names.__getitem__, pair_subject[bad_pairs].tolist()),
                repeat(self.purpose), map(c.kinds.names.__getitem__, self.kind[bad_rows].tolist()),
                [meeting_names[m] if m >= 0 else None for m in self.meeting[bad_rows].tolist()],
                map(c.regions.__getitem__, self.account[bad_rows].tolist()),
                c.consent_ids(found), c.consent_expires[found].tolist(), by, method))
            failing_rows, firsts = np.unique(bad_rows, return_index=True)
            spans = map(slice, firsts.tolist(), [*firsts[1:].tolist(), len(reasons)])
            deque(map(put, failing_rows.tolist(), zip(map(tuple, map(reasons.__getitem__, spans)), repeat(()))),
                  maxlen=0)
        self.outcomes["consent"] = outcomes

    def _setting(self, condition: str, key: str, rows: np.ndarray) -> None:
        c, t = self.c, self.t
        k = c.setting_keys.index.get(key, -1)
        subject = self.subject[rows]
        account = self.account[rows]
        n = len(rows)
        if k < 0:
            account_rec = user_rec = np.full(n, -1, dtype=np.int64)
            locked_pair = first_pair = np.full(n, -1, dtype=np.int64)
            pair_group = np.zeros(0, dtype=np.int64)
        else:
            account_rec = c.setting_latest.find(c.setting_key(k, 0, account), t)
            user_rec = np.where(subject >= 0, c.setting_latest.find(c.setting_key(k, 2, np.maximum(subject, 0)), t), -1)
            s = np.maximum(subject, 0)
            length = np.where(subject >= 0, c.group_start[s + 1] - c.group_start[s], 0)
            local = np.repeat(np.arange(n), length)
            offsets = np.arange(int(length.sum())) - np.repeat(np.cumsum(length) - length, length)
            pair_group = c.group_codes[np.repeat(c.group_start[s], length) + offsets].astype(np.int64)
            found = c.setting_latest.find(c.setting_key(k, 1, pair_group), t)
            hit = found >= 0
            locked = hit & c.setting_locked[np.maximum(found, 0)]
            big = len(pair_group)
            first_pair = np.full(n, big, dtype=np.int64)
            np.minimum.at(first_pair, local[hit], np.flatnonzero(hit))
            locked_pair = np.full(n, big, dtype=np.int64)
            np.minimum.at(locked_pair, local[locked], np.flatnonzero(locked))
            pair_rec = found
            first_pair = np.where(first_pair < big, first_pair, -1)
            locked_pair = np.where(locked_pair < big, locked_pair, -1)
        default = self.batch.policy.setting_default(key)
        value = c.setting_value
        has_subject = subject >= 0
        level = np.full(n, 5, dtype=np.int8)
        result = np.full(n, default, dtype=bool)
        deciding = np.full(n, -1, dtype=np.int64)  # the record or pair that gave the value
        steps = []
        if k >= 0:
            account_locked = (account_rec >= 0) & c.setting_locked[np.maximum(account_rec, 0)]
            steps = [
                (0, account_locked, account_rec),
                (1, has_subject & (locked_pair >= 0), np.where(locked_pair >= 0, pair_rec[np.maximum(locked_pair, 0)]
                                                               if len(pair_group) else -1, -1)),
                (2, has_subject & (user_rec >= 0), user_rec),
                (3, has_subject & (first_pair >= 0), np.where(first_pair >= 0, pair_rec[np.maximum(first_pair, 0)]
                                                              if len(pair_group) else -1, -1)),
                (4, account_rec >= 0, account_rec),
            ]
        decided = np.zeros(n, dtype=bool)
        for code, mask, record in steps:
            take = mask & ~decided
            level[take] = code
            deciding[take] = record[take]
            decided |= take
        result = np.where(deciding >= 0, value[np.maximum(deciding, 0)], result) if len(value) else result
        full = np.zeros(len(self.rows), dtype=bool)
        full[rows] = result
        self.ok[condition] = full
        # Where each value came from: the account, group or person that set it (-1: default).
        target = np.full(n, -1, dtype=np.int64)
        by_account = (level == 0) | (level == 4)
        target[by_account] = account[by_account]
        by_user = level == 2
        target[by_user] = subject[by_user]
        if len(pair_group):
            for code, pairs in ((1, locked_pair), (3, first_pair)):
                chosen = level == code
                target[chosen] = pair_group[pairs[chosen]]
        names = (c.accounts.names, c.groups.names, c.people.names, c.groups.names, c.accounts.names)
        memo = self.batch.setting_outcomes
        outcomes: list[Any] = [None] * len(self.rows)
        rows_list = rows.tolist()
        # Values that hold: one outcome per (level, target), shared.
        on = np.flatnonzero(result)
        combos, inverse = np.unique(level[on].astype(np.int64) * (c.n_targets + 1) + target[on] + 1,
                                    return_inverse=True)
        shared = []
        for combo in combos.tolist():
            code, where = divmod(combo, c.n_targets + 1)
            name = names[code][where - 1] if code < 5 else None
            memo_key = (key, code, name)
            outcome = memo.get(memo_key)
            if outcome is None:
                outcome = memo[memo_key] = ((), (EffectiveSetting(key, True, _LEVELS[code], name).basis(),))
            shared.append(outcome)
        deque(map(outcomes.__setitem__, rows[on].tolist(), map(shared.__getitem__, inverse.reshape(-1).tolist())),
              maxlen=0)
        # Values that fail: the reason names whose setting it is.
        people, accounts = c.people.names, c.accounts.names
        off = np.flatnonzero(~result)
        make_reason = setting_off.__wrapped__
        for local_row, code, where, whose, owner in zip(
            off.tolist(), level[off].tolist(), target[off].tolist(), subject[off].tolist(), account[off].tolist(),
            strict=True,
        ):
            name = names[code][where] if code < 5 else None
            who = people[whose] if whose >= 0 else None
            reason = make_reason(EffectiveSetting(key, False, _LEVELS[code], name), who, accounts[owner])
            outcomes[rows_list[local_row]] = ((reason,), ())
        self.outcomes[condition] = outcomes

    def _notice(self, condition: str, feature: str, rows: np.ndarray) -> None:
        c = self.c
        meeting = self.meeting[rows]
        lacking = c.lacking(feature)
        ok = (meeting < 0) | ~lacking[np.maximum(meeting, 0)]
        full = np.zeros(len(self.rows), dtype=bool)
        full[rows] = ok
        self.ok[condition] = full
        memo = self.batch.notice_outcomes
        outcomes: list[Any] = [None] * len(self.rows)
        distinct, inverse = np.unique(meeting, return_inverse=True)
        found: list[Outcome] = []
        for code, lacks in zip(distinct.tolist(), lacking[np.maximum(distinct, 0)].tolist(), strict=True):
            outcome = memo.get((feature, code))
            if outcome is None:
                if code < 0:
                    outcome = _HOLDS
                elif not lacks:
                    outcome = (), ({"notice": feature, "meeting": c.meetings.names[code]},)
                else:
                    name = c.meetings.names[code]
                    lines = self.batch.world.participants(name)
                    missing = dict.fromkeys(line.subject for line in lines if feature not in line.notified)
                    if missing:
                        outcome = tuple(_notice_missing(subject, feature, name) for subject in missing), ()
                    else:
                        outcome = (), ({"notice": feature, "meeting": name},)
                memo[(feature, code)] = outcome
            found.append(outcome)
        deque(map(outcomes.__setitem__, rows.tolist(), map(found.__getitem__, inverse.reshape(-1).tolist())), maxlen=0)
        self.outcomes[condition] = outcomes


__all__ = ["NEVER", "decide_columnar"]
