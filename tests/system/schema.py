"""The logical schema of a database, read from SQLite or from PostgreSQL into one shape, and
the differences between two of them, so that a test can say "these two engines hold the
same schema" and name what differs.

    a = schema.sqlite_schema("/path/onefile.db")
    b = schema.pg_schema(server, "dbname")          # server: pg.PostgresServer
    self.assertEqual(schema.diff(a, b), [])

The shape: {table: {"columns": [col...], "pk": (names), "unique": [(names), ...],
"checks": [text...], "fks": [(cols, table, refcols, on_update, on_delete)...],
"indexes": {name: {"columns": [(name, "asc"|"desc")...], "unique": bool, "where": text}}}}
with col = {"name", "family", "notnull", "default", "nocase", "identity"}:

- family: the type's family, by SQLite's affinity rules on one side (INT -> integer, CHAR/
  CLOB/TEXT -> text, BLOB -> blob, REAL/FLOA/DOUB -> real, else numeric) and by PostgreSQL's
  type on the other (int2/4/8 -> integer, text/varchar/bpchar/citext -> text, bytea -> blob,
  float4/8 -> real, numeric -> numeric, anything else its own name: boolean != integer).
- notnull: declared NOT NULL, or part of the primary key (PostgreSQL makes those NOT NULL;
  SQLite's INTEGER PRIMARY KEY cannot hold NULL either).
- default: the default EVALUATED by its own engine, so `strftime(...)` and `to_char(...)`
  compare by what they give: a time that is ISO 8601 UTC text within ten minutes of now
  reads "<now: ISO 8601 UTC>"; anything else is its value ('post' -> "post", 0 -> 0). A
  default that became a string literal (pgloader's mistake) evaluates to that string.
- nocase: compares case-insensitively: SQLite's COLLATE NOCASE; PostgreSQL's citext or a
  nondeterministic collation.
- identity: "auto" when an insert without the column gets a new id (SQLite's INTEGER
  PRIMARY KEY, PostgreSQL's identity column or nextval() default), else None.
- unique: UNIQUE constraints (not the primary key, not CREATE UNIQUE INDEX, which is under
  indexes by name); checks: each CHECK normalised (`x IN ('a','b')` and PostgreSQL's
  `x = ANY (ARRAY['a'::text, 'b'::text])` both read "x IN ('a', 'b')"); fks: actions in
  words (NO ACTION, CASCADE, ...); indexes: created by CREATE INDEX, with each key column's
  direction and the predicate of a partial index, normalised (lower case, no outer parens).

schema_migrations is left out by default (each engine's migration runner creates its own).
"""
import datetime
import re
import sqlite3

NOW = "<now: ISO 8601 UTC>"
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
SKIP = ("schema_migrations",)


def _classify_default(v):
    if isinstance(v, str) and ISO_UTC.match(v):
        t = datetime.datetime.strptime(v, "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=datetime.timezone.utc)
        if abs((datetime.datetime.now(datetime.timezone.utc) - t).total_seconds()) < 600:
            return NOW
    return v


def _norm_expr(s):
    s = re.sub(r"\s+", " ", s.strip())
    while s.startswith("(") and s.endswith(")") and _balanced(s[1:-1]):
        s = s[1:-1].strip()
    # lower case outside '...' strings (a string's case is part of its value)
    return "".join(p if p.startswith("'") else p.lower()
                   for p in re.split(r"('(?:[^']|'')*')", s))


def _balanced(s):
    depth, q = 0, False
    for ch in s:
        if ch == "'":
            q = not q
        elif not q and ch == "(":
            depth += 1
        elif not q and ch == ")":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


def _norm_check(s):
    """A CHECK's expression (without CHECK), one text for both engines' spellings."""
    e = _norm_expr(s)
    m = re.match(r"^(\w+) in \((.*)\)$", e)
    if m:
        values = [v.strip() for v in m.group(2).split(",")]
        return "%s IN (%s)" % (m.group(1), ", ".join(values))
    m = re.match(r"^\(?(\w+)\)? = any \(\(?array\[(.*)\]\)?(?:::\w+\[\])?\)$", e)
    if m:
        values = [re.sub(r"::[\w ]+$", "", v.strip()) for v in m.group(2).split(",")]
        return "%s IN (%s)" % (m.group(1), ", ".join(values))
    return e


# --- SQLite ----------------------------------------------------------------------------

def _affinity(decl):
    t = (decl or "").upper()
    if "INT" in t:
        return "integer"
    if "CHAR" in t or "CLOB" in t or "TEXT" in t:
        return "text"
    if "BLOB" in t or not t:
        return "blob"
    if "REAL" in t or "FLOA" in t or "DOUB" in t:
        return "real"
    return "numeric"


def _split_top(s):
    """s split at the commas outside parentheses and quotes."""
    parts, depth, q, cur = [], 0, None, []
    for ch in s:
        if q:
            cur.append(ch)
            if ch == q:
                q = None
            continue
        if ch in "'\"`[":
            q = "]" if ch == "[" else ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    if "".join(cur).strip():
        parts.append("".join(cur).strip())
    return parts


def _paren_groups_after(word, s):
    """The contents of each balanced (...) that follows `word` in s."""
    out = []
    for m in re.finditer(r"\b%s\s*\(" % word, s, re.I):
        depth, i = 1, m.end()
        while i < len(s) and depth:
            depth += {"(": 1, ")": -1}.get(s[i], 0)
            i += 1
        out.append(s[m.end():i - 1])
    return out


def _strip_comments(sql):
    return re.sub(r"--[^\n]*", " ", sql)


def _sqlite_table_sql(sql):
    """(column definitions by name, table constraints) of a CREATE TABLE text."""
    body = _strip_comments(sql)
    body = body[body.index("(") + 1:body.rindex(")")]
    cols, constraints = {}, []
    for part in _split_top(body):
        head = part.split(None, 1)[0].upper()
        if head in ("PRIMARY", "UNIQUE", "CHECK", "FOREIGN", "CONSTRAINT"):
            constraints.append(part)
        else:
            cols[part.split(None, 1)[0].strip('"`[]')] = part
    return cols, constraints


def sqlite_schema(path, skip=SKIP):
    db = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    try:
        out = {}
        tables = db.execute("SELECT name, sql FROM sqlite_schema WHERE type = 'table' AND "
                            "name NOT LIKE 'sqlite_%' ORDER BY name").fetchall()
        for name, sql in tables:
            if name in skip:
                continue
            coldefs, tconstraints = _sqlite_table_sql(sql)
            xinfo = db.execute("SELECT name, type, \"notnull\", dflt_value, pk FROM "
                               "pragma_table_xinfo(?) WHERE hidden = 0 ORDER BY cid",
                               (name,)).fetchall()
            pk = tuple(c[0] for c in sorted((c for c in xinfo if c[4]), key=lambda c: c[4]))
            rowid_alias = (len(pk) == 1 and "WITHOUT ROWID" not in sql.upper() and
                           [c[1] for c in xinfo if c[0] == pk[0]][0].upper() == "INTEGER")
            columns, checks = [], []
            for cname, ctype, notnull, dflt, pkpos in xinfo:
                d = coldefs.get(cname, "")
                coll = re.search(r"\bCOLLATE\s+(\w+)", d, re.I)
                default = None
                if dflt is not None:
                    default = _classify_default(db.execute("SELECT %s" % dflt).fetchone()[0])
                columns.append({
                    "name": cname, "family": _affinity(ctype),
                    "notnull": bool(notnull or pkpos), "default": default,
                    "nocase": bool(coll and coll.group(1).upper() == "NOCASE"),
                    "identity": "auto" if rowid_alias and pkpos else None,
                })
                checks += [_norm_check(c) for c in _paren_groups_after("CHECK", d)]
            for c in tconstraints:
                checks += [_norm_check(x) for x in _paren_groups_after("CHECK", c)]
            unique, indexes = [], {}
            for _, iname, isunique, origin, partial in db.execute(
                    "SELECT seq, name, \"unique\", origin, partial FROM pragma_index_list(?)",
                    (name,)).fetchall():
                keys = db.execute("SELECT name, \"desc\" FROM pragma_index_xinfo(?) WHERE key "
                                  "ORDER BY seqno", (iname,)).fetchall()
                if origin == "u":
                    unique.append(tuple(k[0] for k in keys))
                elif origin == "c":
                    isql = db.execute("SELECT sql FROM sqlite_schema WHERE name = ?",
                                      (iname,)).fetchone()[0]
                    m = re.search(r"\bWHERE\b(.*)$", _strip_comments(isql), re.I | re.S)
                    indexes[iname] = {
                        "columns": [(k[0] or "<expression>", "desc" if k[1] else "asc")
                                    for k in keys],
                        "unique": bool(isunique),
                        "where": _norm_expr(m.group(1)) if (partial and m) else None,
                    }
            fks = {}
            for fid, seq, rtable, frm, to, on_update, on_delete, _ in db.execute(
                    "SELECT * FROM pragma_foreign_key_list(?) ORDER BY id, seq", (name,)):
                fks.setdefault(fid, {"cols": [], "to": [], "table": rtable,
                                     "upd": on_update.upper(), "del": on_delete.upper()})
                fks[fid]["cols"].append(frm)
                fks[fid]["to"].append(to)
            fklist = []
            for f in fks.values():
                to = f["to"]
                if any(t is None for t in to):  # REFERENCES t: its primary key
                    to = [r[0] for r in sorted(
                        (r for r in db.execute("SELECT name, pk FROM pragma_table_info(?)",
                                               (f["table"],)) if r[1]), key=lambda r: r[1])]
                fklist.append((tuple(f["cols"]), f["table"], tuple(to), f["upd"], f["del"]))
            out[name] = {"columns": columns, "pk": pk, "unique": sorted(unique),
                         "checks": sorted(checks), "fks": sorted(fklist), "indexes": indexes}
        return out
    finally:
        db.close()


# --- PostgreSQL --------------------------------------------------------------------------

PG_FAMILY = {"int2": "integer", "int4": "integer", "int8": "integer", "text": "text",
             "varchar": "text", "bpchar": "text", "citext": "text", "bytea": "blob",
             "float4": "real", "float8": "real", "numeric": "numeric"}
PG_ACTION = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL",
             "d": "SET DEFAULT"}


def pg_schema(server, dbname, skip=SKIP):
    """The schema of dbname's current schema (public), in four queries through
    server.query_json (each psql run costs tens of milliseconds)."""
    q = server.query_json
    tables = """
        SELECT c.oid FROM pg_class c
        WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')"""
    names = """(SELECT array_agg(a.attname ORDER BY k.n) FROM unnest(%s) WITH ORDINALITY k(att, n)
                JOIN pg_attribute a ON a.attrelid = %s AND a.attnum = k.att)"""
    cols = q(dbname, """
        SELECT a.attrelid::regclass::text AS t, a.attname AS name, ty.typname AS type,
               a.attnotnull AS notnull, pg_get_expr(d.adbin, d.adrelid) AS dflt,
               a.attidentity AS ident, coalesce(NOT co.collisdeterministic, false) AS nondet
        FROM pg_attribute a JOIN pg_type ty ON ty.oid = a.atttypid
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        LEFT JOIN pg_collation co ON co.oid = a.attcollation
        WHERE a.attrelid IN (%s) AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY 1, a.attnum""" % tables)
    cons = q(dbname, """
        SELECT conrelid::regclass::text AS t, contype, conindid::bigint AS ind,
               %s AS cols, confrelid::regclass::text AS reftable, %s AS refcols,
               confupdtype, confdeltype, pg_get_constraintdef(oid) AS def
        FROM pg_constraint WHERE conrelid IN (%s) ORDER BY conname""" % (
        names % ("conkey", "conrelid"), names % ("confkey", "confrelid"), tables))
    idx = q(dbname, """
        SELECT x.indrelid::regclass::text AS t, x.indexrelid::bigint AS oid, ic.relname AS name,
               x.indisunique AS uniq, x.indkey::int2[] AS keys, x.indoption::int2[] AS opts,
               x.indnkeyatts AS nkeys, pg_get_expr(x.indpred, x.indrelid) AS pred,
               (SELECT array_agg(coalesce(a.attname, '<expression>') ORDER BY k.n)
                FROM unnest(x.indkey::int2[]) WITH ORDINALITY k(att, n)
                LEFT JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.att
                                         AND k.att <> 0) AS colnames
        FROM pg_index x JOIN pg_class ic ON ic.oid = x.indexrelid
        WHERE x.indrelid IN (%s) ORDER BY ic.relname""" % tables)
    defaults = [c["dflt"] for c in cols if c["dflt"] is not None and not c["ident"]
                and not c["dflt"].startswith("nextval(")]
    values = []
    if defaults:
        values = q(dbname, "SELECT json_build_array(%s) AS v" % ", ".join(defaults))[0]["v"]
    evaluated = dict(zip(defaults, values))

    out = {}
    for c in cols:
        t = out.setdefault(c["t"], {"columns": [], "pk": (), "unique": [], "checks": [],
                                    "fks": [], "indexes": {}})
        default, identity = None, None
        if c["ident"] in ("a", "d") or (c["dflt"] or "").startswith("nextval("):
            identity = "auto"
        elif c["dflt"] is not None:
            default = _classify_default(evaluated[c["dflt"]])
        t["columns"].append({
            "name": c["name"], "family": PG_FAMILY.get(c["type"], c["type"]),
            "notnull": bool(c["notnull"]), "default": default,
            "nocase": c["type"] == "citext" or bool(c["nondet"]), "identity": identity,
        })
    constraint_indexes = set()
    for c in cons:
        t = out[c["t"]]
        keys = tuple(c["cols"] or ())
        if c["contype"] == "p":
            t["pk"] = keys
            constraint_indexes.add(c["ind"])
        elif c["contype"] == "u":
            t["unique"].append(keys)
            constraint_indexes.add(c["ind"])
        elif c["contype"] == "c":
            t["checks"].append(_norm_check(re.sub(r"^CHECK\s*", "", c["def"])))
        elif c["contype"] == "f":
            t["fks"].append((keys, c["reftable"], tuple(c["refcols"]),
                             PG_ACTION[c["confupdtype"]], PG_ACTION[c["confdeltype"]]))
    for i in idx:
        if i["oid"] in constraint_indexes:
            continue
        keys = [(i["colnames"][k], "desc" if i["opts"][k] & 1 else "asc")
                for k in range(i["nkeys"])]
        out[i["t"]]["indexes"][i["name"]] = {
            "columns": keys, "unique": bool(i["uniq"]),
            "where": _norm_expr(i["pred"]) if i["pred"] else None}
    for name in list(out):
        if name in skip:
            del out[name]
            continue
        for k in ("unique", "checks", "fks"):
            out[name][k] = sorted(out[name][k])
    return out


# --- comparing ----------------------------------------------------------------------------

def diff(a, b, names=("sqlite", "postgres")):
    """Lines naming every difference between schemas a and b ([] when they are the same)."""
    na, nb = names
    lines = []
    for t in sorted(set(a) | set(b)):
        if t not in a or t not in b:
            lines.append("table %s: only in %s" % (t, na if t in a else nb))
            continue
        ta, tb = a[t], b[t]
        ca = [c["name"] for c in ta["columns"]]
        cb = [c["name"] for c in tb["columns"]]
        if ca != cb:
            lines.append("table %s: columns %s in %s, %s in %s" % (t, ca, na, cb, nb))
        bycol = {c["name"]: c for c in tb["columns"]}
        for c in ta["columns"]:
            d = bycol.get(c["name"])
            if not d:
                continue
            for k in ("family", "notnull", "default", "nocase", "identity"):
                if c[k] != d[k]:
                    lines.append("%s.%s: %s %r in %s, %r in %s" % (t, c["name"], k, c[k], na,
                                                                  d[k], nb))
        for k in ("pk", "unique", "checks", "fks"):
            if ta[k] != tb[k]:
                lines.append("table %s: %s %r in %s, %r in %s" % (t, k, ta[k], na, tb[k], nb))
        for i in sorted(set(ta["indexes"]) | set(tb["indexes"])):
            ia, ib = ta["indexes"].get(i), tb["indexes"].get(i)
            if ia != ib:
                lines.append("index %s on %s: %r in %s, %r in %s" % (i, t, ia, na, ib, nb))
    return lines
