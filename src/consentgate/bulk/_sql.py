"""The eligibility rules of CONTRACT.md §1 as SQL, written once (DuckDB dialect).

The statements read the state tables (``t_*``) and the compiled plan (``p_*``, see
:mod:`._plan`); Spark runs the same text after sqlglot transpiles it. Only integer
literals and fixed reason codes are written into the text: every id, key, feature and
section comes in through a table, so no user string is ever quoted into SQL.

Consent states are packed into one BIGINT, ``seq * 8 + state``: the maximum over the
consents covering a (subject, kind, meeting) is then the latest one, carrying its state
in the low bits (0 holds, 2 refused, 3 withdrawn, 4 expired, 5 given by someone else;
no consent at all reads as 1).
"""

from __future__ import annotations

from ._plan import Plan

STATE_CODES = {1: "consent.missing", 2: "consent.refused", 3: "consent.withdrawn", 4: "consent.expired",
               5: "consent.not_self"}
# Reason ranks: a condition's place in decide's walk times SLOT, plus the place of the
# subject among the item's people (owner 0, then participant lines by arrival, plus one).
SLOT = 1 << 40
SIGNAL_RANK, SOURCE_RANK = 1 << 62, (1 << 62) + 1
_NULL = "CAST(NULL AS BIGINT)"


def consent_states(plan: Plan, t: int) -> dict[str, str]:
    """``s_cg`` (per subject: consents not limited to a meeting) and ``s_cm`` (per subject
    and meeting: consents limited to it), each the packed latest consent per needed kind."""
    per_kind = ", ".join(f"max(CASE WHEN kinds & {bit} <> 0 THEN enc END) AS e{bit}" for bit in plan.consent_kinds)
    relevant = f"""
        SELECT c.subject, c.meeting, c.kinds,
               c.seq * 8 + CASE WHEN c.status = 'refused' THEN 2 WHEN c.status = 'withdrawn' THEN 3
                                WHEN c.expires IS NOT NULL AND c.expires <= {t} THEN 4
                                WHEN NOT c.self_given THEN 5 ELSE 0 END AS enc
        FROM t_consents c JOIN p_lineage l ON l.purpose = c.purpose
        WHERE c."at" <= {t}"""
    return {
        "s_cg": f"SELECT subject, {per_kind} FROM ({relevant}) r WHERE meeting IS NULL GROUP BY subject",
        "s_cm": f"SELECT subject, meeting, {per_kind} FROM ({relevant}) r WHERE meeting IS NOT NULL "
                "GROUP BY subject, meeting",
    }


def _by_kind(plan: Plan, expression: str) -> str:
    """``expression`` (with ``{bit}``) picked by the item's kind; null for other kinds."""
    branches = " ".join(f"WHEN {bit} THEN {expression.format(bit=bit)}" for bit in plan.consent_kinds)
    return f"CASE x.kbit {branches} END"


def _code(enc: str) -> str:
    return f"CASE WHEN {enc} IS NULL THEN 1 ELSE {enc} % 8 END"


def _setting_ctes(plan: Plan, t: int) -> list[str]:
    """Effective settings: ``av`` per account (value and lock of each key), ``uv`` per
    person (the first of group lock, own value, group value that is set)."""
    settings = plan.of_kind("setting")
    pivot = ", ".join(f"bool_or(CASE WHEN cond = {c.index} THEN value END) AS v{c.index}" for c in settings)
    locks = ", ".join(f"bool_or(CASE WHEN cond = {c.index} THEN locked END) AS l{c.index}" for c in settings)
    return [
        f"""sl AS (
        SELECT s.scope, s.target, c.cond, arg_max(s.value, s.seq) AS value, arg_max(s.locked, s.seq) AS locked
        FROM t_settings s JOIN p_cond c ON c.ctype = 'setting' AND c.arg = s.key
        WHERE s."at" <= {t}
        GROUP BY s.scope, s.target, c.cond)""",
        # Groups rank by priority (1 first), groups without one last, ties by list order.
        """gr AS (
        SELECT ug.user_id, sl.cond, sl.value, sl.locked,
               row_number() OVER (PARTITION BY ug.user_id, sl.cond
                                  ORDER BY g.priority IS NULL, g.priority, ug.pos) AS r_any,
               row_number() OVER (PARTITION BY ug.user_id, sl.cond, sl.locked
                                  ORDER BY g.priority IS NULL, g.priority, ug.pos) AS r_same
        FROM t_user_groups ug JOIN sl ON sl.scope = 'group' AND sl.target = ug.group_id
        LEFT JOIN t_groups g ON g.id = ug.group_id)""",
        """ut AS (
        SELECT user_id, cond, 1 AS tier, value FROM gr WHERE locked AND r_same = 1
        UNION ALL SELECT target AS user_id, cond, 2 AS tier, value FROM sl WHERE scope = 'user'
        UNION ALL SELECT user_id, cond, 3 AS tier, value FROM gr WHERE r_any = 1)""",
        f"""uv AS (
        SELECT user_id, {pivot}
        FROM (SELECT user_id, cond, arg_min(value, tier) AS value FROM ut GROUP BY user_id, cond) u
        GROUP BY user_id)""",
        f"av AS (SELECT target AS account, {pivot}, {locks} FROM sl WHERE scope = 'account' GROUP BY target)",
    ]


def _participant_ctes(plan: Plan) -> list[str]:
    """``pm``: per meeting and needed kind, the first participant line failing each way."""
    codes = ", ".join(
        _code(f"greatest(pg.e{bit}, pc.e{bit})") + f" AS c{bit}" for bit in plan.consent_kinds
    )
    firsts = ", ".join(
        f"min(CASE WHEN c{bit} = {code} THEN pos END) AS r{bit}_{code}"
        for bit in plan.consent_kinds for code in STATE_CODES
    )
    return [f"""pm AS (
        SELECT meeting, {firsts}
        FROM (SELECT p.meeting, p.pos, {codes}
              FROM t_participants p
              LEFT JOIN s_cg pg ON pg.subject = p.subject
              LEFT JOIN s_cm pc ON pc.subject = p.subject AND pc.meeting = p.meeting) l
        GROUP BY meeting)"""]


def base(plan: Plan, t: int) -> str:
    """``s_base``: every item that exists at T, with its verdict before sources count."""
    ctes = [
        f"""live AS (
        SELECT i.rid, i.item_id, i.account, i.owner, i.meeting, i.kind, i.derived, i.train_reserved,
               k.bit AS kbit, COALESCE(k.candidate, FALSE) AS candidate
        FROM t_items i LEFT JOIN p_kinds k ON k.kind = i.kind
        WHERE i.created <= {t})""",
        # The version in force: accepted at or before T, effective at or before T, latest.
        f"""tif AS (
        SELECT account, arg_max(version, terms_seq) AS version FROM t_acceptances
        WHERE "at" <= {t} AND effective <= {t} GROUP BY account)""",
        f'erased AS (SELECT item_id FROM t_erasures e WHERE e."at" <= {t} GROUP BY item_id)',
        """acct AS (
        SELECT a.id, r.region IS NOT NULL AS self_only
        FROM t_accounts a LEFT JOIN p_regions r ON r.region = a.region)""",
    ]
    joins: list[str] = []
    flags: list[tuple[int, str]] = []  # (condition, SQL that is true when it fails)
    settings, notices, consent = plan.of_kind("setting"), plan.of_kind("notice"), plan.of_kind("consent")
    if settings:
        ctes += _setting_ctes(plan, t)
        joins += ["LEFT JOIN av ON av.account = x.account", "LEFT JOIN uv ON uv.user_id = x.owner"]
        for c in settings:
            value = (f"CASE WHEN av.l{c.index} THEN av.v{c.index} "
                     f"ELSE COALESCE(uv.v{c.index}, av.v{c.index}, {str(c.default).upper()}) END")
            flags.append((c.index, f"NOT ({value})"))
    if notices:
        any_missing = ", ".join(f"bool_or(c.cond = {c.index}) AS n{c.index}" for c in notices)
        ctes.append(f"""nm AS (
        SELECT p.meeting, {any_missing}
        FROM t_participants p JOIN p_cond c ON c.ctype = 'notice' AND NOT list_contains(p.notified, c.arg)
        GROUP BY p.meeting)""")
        joins.append("LEFT JOIN nm ON nm.meeting = x.meeting")
        flags += [(c.index, f"COALESCE(nm.n{c.index}, FALSE)") for c in notices]
    owner_enc, participant = _NULL, dict.fromkeys(STATE_CODES, _NULL)
    if consent:
        ctes += _participant_ctes(plan)
        joins += ["LEFT JOIN s_cg og ON og.subject = x.owner",
                  "LEFT JOIN s_cm om ON om.subject = x.owner AND om.meeting = x.meeting",
                  "LEFT JOIN pm ON pm.meeting = x.meeting"]
        owner_enc = _by_kind(plan, "greatest(og.e{bit}, om.e{bit})")
        participant = {code: _by_kind(plan, f"pm.r{{bit}}_{code}") for code in STATE_CODES}
    ctes.append(f"""items_x AS (
        SELECT x.rid, x.derived, x.candidate, x.kind, x.train_reserved, tif.version,
               COALESCE(a.self_only, FALSE) AS self_only, erased.item_id IS NOT NULL AS erased,
               {owner_enc} AS owner_enc,
               {"".join(f"{sql} AS p{code}, " for code, sql in participant.items())}
               {"".join(f"{sql} AS f{index}, " for index, sql in flags)} 0 AS pad
        FROM live x
        LEFT JOIN acct a ON a.id = x.account
        LEFT JOIN tif ON tif.account = x.account
        LEFT JOIN erased ON erased.item_id = x.item_id
        {" ".join(joins)})""")
    # A subject's rank: 0 for the owner, else the first failing participant line + 1.
    # The owner is a participant line too, in the same state, so min() needs no care.
    ranks = {code: f"CASE WHEN ({_code('o.owner_enc')}) = {code} THEN 0 ELSE o.p{code} + 1 END"
             for code in STATE_CODES}
    ranks[5] = f"CASE WHEN o.self_only THEN ({ranks[5]}) END"
    if not consent:
        ranks = dict.fromkeys(STATE_CODES, _NULL)
    ctes.append(f"""ranked AS (
        SELECT o.*, {", ".join(f"{sql} AS k{code}" for code, sql in ranks.items())}
        FROM items_x o)""")
    bits = [f"CASE WHEN o.f{index} THEN {1 << index} ELSE 0 END" for index, _ in flags]
    if consent:
        any_fails = " OR ".join(f"o.k{code} IS NOT NULL" for code in STATE_CODES)
        bits.append(f"CASE WHEN {any_fails} THEN {1 << consent[0].index} ELSE 0 END")
    fmask = " + ".join(bits) or "0"
    return f"""WITH {", ".join(ctes)}
    SELECT *, standalone IS NULL AND section IS NOT NULL AND NOT sig AS base_ok FROM (
    SELECT o.rid, o.derived, o.candidate, o.version, v.section, v.consent_grant,
           CASE WHEN o.erased THEN 'item.deleted' WHEN o.version IS NULL THEN 'terms.not_accepted'
                WHEN vk.vk IS NULL THEN 'purpose.not_granted' END AS standalone,
           o.train_reserved AND {str(plan.reserves).upper()} AS sig,
           CASE WHEN v.consent_grant THEN CAST(floor(o.owner_enc / 8) AS BIGINT) END AS owner_seq,
           v.r_setting * {SLOT} AS rk_setting, v.r_notice * {SLOT} AS rk_notice,
           {", ".join(f"v.r_consent * {SLOT} + o.k{code} AS rk{code}" for code in STATE_CODES)}
    FROM ranked o
    LEFT JOIN p_vk vk ON vk.version = o.version AND vk.kind = o.kind
    LEFT JOIN p_verdict v ON v.vk = vk.vk AND v.fmask = (({fmask}) & vk.used)) b"""
