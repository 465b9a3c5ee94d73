"""The per-person, per-meeting and per-account parts of the rules as SQL (DuckDB dialect).

The statements read the state tables (``t_*``) and the compiled plan (``p_*``, see
:mod:`._plan`); Spark runs the same text after sqlglot transpiles it. Only integer
literals and fixed words are written into the text: every id, key, feature and section
comes in through a table, so no user string is ever quoted into SQL.

Consent states. For one subject, kind and meeting, the latest covering consent decides;
``enc = seq * 8 + state`` makes "latest" a plain ``max`` that carries the state in its
low digit (0 holds, 2 refused, 3 withdrawn, 4 expired, 5 given by someone else; 1 is
"no consent"). The states of one subject for every kind that needs consent are then
packed one base-8 digit per kind (``p_kinds.kidx``), so a meeting's participant lines
travel as a few integers instead of a row per kind.
"""

from __future__ import annotations

from ._plan import Plan

STATE_CODES = (1, 2, 3, 4, 5)  # missing, refused, withdrawn, expired, not given by the subject


def missing_all(plan: Plan) -> int:
    """The packed state of someone with no consent at all: "missing" for every kind."""
    return sum(1 * 8**place for place in range(len(plan.consent_kinds)))


def _packed(plan: Plan, code: str) -> str:
    """Σ code(i) * 8**i over the consent kinds; ``code`` formats ``{i}``. Packed states
    are INTEGER when their digits fit (up to ten kinds), which halves what every
    participant line and item carries of them."""
    kind = "INTEGER" if 3 * len(plan.consent_kinds) < 31 else "BIGINT"
    return f"CAST({' + '.join(f'({code.format(i=i)}) * {8**i}' for i in range(len(plan.consent_kinds)))} AS {kind})"


def _state(enc: str) -> str:
    return f"CASE WHEN {enc} IS NULL THEN 1 ELSE {enc} % 8 END"


def consent_states(plan: Plan, t: int) -> dict[str, str]:
    """``s_rel``: the consents covering the purpose made by T, each with its ``enc``;
    ``s_cg``: per subject, the latest consent not limited to a meeting, per kind (``e{i}``);
    ``s_cm``: the same per subject and meeting for consents limited to one;
    ``s_pgm``: per subject and meeting in ``s_cm``, the packed states counting both.

    ``s_rel`` is its own step because an engine inlines a subquery's columns into each
    expression that reads them: the per-kind maxima would each recompute ``enc``."""
    per_kind = ", ".join(f"max(CASE WHEN kinds & {bit} <> 0 THEN enc END) AS e{i}"
                         for i, bit in enumerate(plan.consent_kinds))
    relevant = f"""
        SELECT c.subject_ref AS subject, c.meeting_ref AS meeting, c.kinds,
               c.seq * 8 + CASE WHEN c.status = 'refused' THEN 2 WHEN c.status = 'withdrawn' THEN 3
                                WHEN c.expires IS NOT NULL AND c.expires <= {t} THEN 4
                                WHEN NOT c.self_given THEN 5 ELSE 0 END AS enc
        FROM t_consents c JOIN p_lineage l ON l.purpose = c.purpose
        WHERE c."at" <= {t}"""
    both = _packed(plan, _state("greatest(g.e{i}, m.e{i})"))
    return {
        "s_rel": relevant,
        "s_cg": f"SELECT subject, {per_kind} FROM s_rel WHERE meeting IS NULL GROUP BY subject",
        "s_cm": f"SELECT subject, meeting, {per_kind} FROM s_rel WHERE meeting IS NOT NULL "
                "GROUP BY subject, meeting",
        "s_pgm": f"SELECT m.subject, m.meeting, {both} AS packed "
                 "FROM s_cm m LEFT JOIN s_cg g ON g.subject = m.subject",
    }


def _settings(plan: Plan, t: int) -> tuple[str, str]:
    """Effective-setting parts: per person (the first of group lock, own value, group value
    that is set) and per account (value and lock), one column per setting condition."""
    settings = plan.of_kind("setting")
    values = ", ".join(f"bool_or(CASE WHEN cond = {c.index} THEN value END) AS v{c.index}" for c in settings)
    locks = ", ".join(f"bool_or(CASE WHEN cond = {c.index} THEN locked END) AS l{c.index}" for c in settings)
    latest = f"""
        SELECT s.scope, s.target_ref AS target, c.cond,
               arg_max(s.value, s.seq) AS value, arg_max(s.locked, s.seq) AS locked
        FROM t_settings s JOIN p_cond c ON c.ctype = 'setting' AND c.arg = s.key
        WHERE s."at" <= {t}
        GROUP BY s.scope, s.target_ref, c.cond"""
    # Groups rank by priority (1 first), groups without one last, ties by list order:
    # per person and setting, the value of the first locked group and of the first group.
    first = "struct_pack(n := g.priority IS NULL, p := COALESCE(g.priority, 0), q := ug.pos)"
    groups = f"""
        SELECT ug.user_ref AS user_id, sl.cond,
               arg_min(sl.value, {first}) FILTER (WHERE sl.locked) AS locked_value,
               arg_min(sl.value, {first}) AS group_value
        FROM t_user_groups ug JOIN ({latest}) sl ON sl.scope = 'group' AND sl.target = ug.group_ref
        LEFT JOIN t_groups g ON g.ref = ug.group_ref
        GROUP BY ug.user_ref, sl.cond"""
    # The first that is set of: a locked group's value, the person's own, a group's.
    person = f"""
        SELECT user_id, {values}
        FROM (SELECT COALESCE(gr.user_id, u.target) AS user_id, COALESCE(gr.cond, u.cond) AS cond,
                     COALESCE(gr.locked_value, u.value, gr.group_value) AS value
              FROM ({groups}) gr
              FULL OUTER JOIN (SELECT target, cond, value FROM ({latest}) sl WHERE scope = 'user') u
                ON u.target = gr.user_id AND u.cond = gr.cond) v
        GROUP BY user_id"""
    account = f"SELECT target AS account, {values}, {locks} FROM ({latest}) sl WHERE scope = 'account' GROUP BY target"
    return person, account


def people(plan: Plan, t: int) -> str:
    """``s_owner``: per person, the packed consent states (``pg``, consents for any
    meeting) and the person-level setting values (``v{cond}``)."""
    parts = []
    if plan.of_kind("consent"):
        parts.append(("subject", f"SELECT subject, {_packed(plan, _state('e{i}'))} AS pg FROM s_cg", ["pg"]))
    if plan.of_kind("setting"):
        person, _ = _settings(plan, t)
        parts.append(("user_id", person, [f"v{c.index}" for c in plan.of_kind("setting")]))
    if len(parts) == 1:
        key, sql, columns = parts[0]
        return f"SELECT {key} AS subject, {', '.join(columns)} FROM ({sql}) p"
    (_, consents, _), (_, settings, columns) = parts
    return f"""
        SELECT COALESCE(c.subject, s.user_id) AS subject, c.pg, {", ".join(f"s.{c}" for c in columns)}
        FROM ({consents}) c FULL OUTER JOIN ({settings}) s ON s.user_id = c.subject"""


def accounts(plan: Plan, t: int) -> str:
    """``s_acc``: per account (``ref``), the terms version in force (its number ``vidx``),
    whether only self-given consent counts there, and the account-level settings."""
    settings = plan.of_kind("setting")
    columns = "".join(f", av.v{c.index}, av.l{c.index}" for c in settings)
    account_settings = f"LEFT JOIN ({_settings(plan, t)[1]}) av ON av.account = a.ref" if settings else ""
    # The version in force: accepted at or before T, effective at or before T, latest.
    return f"""
        SELECT a.ref AS account, v.vidx, r.region IS NOT NULL AS self_only{columns}
        FROM t_accounts a
        LEFT JOIN (SELECT account_ref, arg_max(version, terms_seq) AS version FROM t_acceptances
                   WHERE "at" <= {t} AND effective <= {t} GROUP BY account_ref) tif ON tif.account_ref = a.ref
        LEFT JOIN p_versions v ON v.version = tif.version
        LEFT JOIN p_regions r ON r.region = a.region
        {account_settings}"""


def _line_states(plan: Plan, lines: str | None) -> str:
    """Participant lines with the packed consent states of their subject in that meeting
    (``lines``: a table of the participant lines that holds their subject's ``o_pg``)."""
    owner = "" if lines else "LEFT JOIN s_owner o ON o.subject = p.subject_ref"
    return f"""
        SELECT p.meeting_ref AS meeting, p.subject_ref AS subject, p.pos, p.notified,
               COALESCE(pm.packed, {"p.o_pg" if lines else "o.pg"}, {missing_all(plan)}) AS packed
        FROM {lines or "t_participants"} p
        {owner}
        LEFT JOIN s_pgm pm ON pm.subject = p.subject_ref AND pm.meeting = p.meeting_ref"""


def line_flags(plan: Plan, lines: str | None = None) -> str:
    """Each participant line's meeting, place (``pos``), packed consent states (when
    consent counts) and, for each notice condition, whether its subject was not told
    (``n{cond}``). ``lines`` as in ``_line_states``."""
    columns, joins = ["p.meeting", "p.pos"], []
    if plan.of_kind("consent"):
        columns.append("p.packed")
        source = f"({_line_states(plan, lines)})"
    else:
        source = "(SELECT meeting_ref AS meeting, pos, notified FROM t_participants)"
    for c in plan.of_kind("notice"):
        columns.append(f"NOT list_contains(p.notified, n{c.index}.arg) AS n{c.index}")
        joins.append(f"CROSS JOIN (SELECT arg FROM p_cond WHERE cond = {c.index}) n{c.index}")
    return f"SELECT {', '.join(columns)} FROM {source} p {' '.join(joins)}"


def meetings(plan: Plan, lines: str | None = None) -> str:
    """``s_lines``: per meeting, the packed states of its first lines (``pk{j}``), whether it
    has more (``over``), and for each notice condition whether someone was not told.
    ``lines`` as in ``_line_states``. (In process, the same table is made from
    :func:`line_flags` by position: ``_gather.per_meeting``.)"""
    columns = []
    if plan.of_kind("consent"):
        columns += [f"max(CASE WHEN f.pos = {j} THEN f.packed END) AS pk{j}" for j in range(plan.packed_lines)]
        columns.append(f"max(f.pos) >= {plan.packed_lines} AS over")
    columns += [f"bool_or(f.n{c.index}) AS n{c.index}" for c in plan.of_kind("notice")]
    return f"SELECT f.meeting, {', '.join(columns)} FROM ({line_flags(plan, lines)}) f GROUP BY f.meeting"


def overflow(plan: Plan, t: int, lines: str | None = None) -> str:
    """``s_over``: for items of meetings with more lines than the fast path carries, the
    order (0 first) in which each consent code first fails among those further lines."""
    firsts = ", ".join(f"min(CASE WHEN code = {code} THEN pos END) AS o{code}" for code in STATE_CODES)
    order = ", ".join(
        f"CASE WHEN o{code} IS NOT NULL THEN "
        + " + ".join(f"CASE WHEN o{other} < o{code} THEN 1 ELSE 0 END" for other in STATE_CODES if other != code)
        + f" END AS p{code}"
        for code in STATE_CODES
    )
    return f"""
        SELECT rid, {order}
        FROM (SELECT rid, {firsts}
              FROM (SELECT i.rid, p.pos, (p.packed >> k.kshift) & 7 AS code
                    FROM t_items i
                    JOIN p_kinds k ON k.code = i.kind_code AND k.kidx IS NOT NULL
                    JOIN s_lines m ON m.meeting = i.meeting_ref AND m.over
                    JOIN ({_line_states(plan, lines)}) p ON p.meeting = i.meeting_ref AND p.pos >= {plan.packed_lines}
                    WHERE i.created <= {t}) x
              GROUP BY rid) z"""
