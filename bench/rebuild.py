#!/usr/bin/env python3
"""`make bench` part 2: a table rebuild on 1,000,000 rows (issue 4's bar).

A site table with two indexes, a trigger and a foreign key into it gets a column type
change through `-- onefile:rebuild`. Timed: `onefile migrate --dry-run` (copy, rebuild on
the copy, checks) and `onefile migrate` (the real one). Reference, measured in the same
run: the same rows copied by hand into a new table with its two indexes (the least work
any rebuild must do). Then every row, index, the trigger and the foreign key are checked.
usage: bench/rebuild.py ONEFILE_BIN DIR [ROWS]
"""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time

BIN, DIR = sys.argv[1], sys.argv[2]
ROWS = int(sys.argv[3]) if len(sys.argv) > 3 else 1_000_000

INIT = """
CREATE TABLE items (id INTEGER PRIMARY KEY, sku TEXT NOT NULL, price TEXT, qty INTEGER);
CREATE UNIQUE INDEX items_sku ON items(sku);
CREATE INDEX items_qty ON items(qty);
CREATE TABLE orders (id INTEGER PRIMARY KEY, item_id INTEGER NOT NULL REFERENCES items(id));
CREATE TABLE audit (item_id INTEGER, old_price, new_price);
CREATE TRIGGER items_audit AFTER UPDATE OF price ON items
BEGIN INSERT INTO audit VALUES (old.id, old.price, new.price); END;
"""
REBUILD = """-- price becomes a number
-- onefile:rebuild items
-- (the copy converts the text prices: REAL affinity applies as the rows are inserted)
CREATE TABLE items (id INTEGER PRIMARY KEY, sku TEXT NOT NULL, price REAL, qty INTEGER);
"""


def run(*args):
    t0 = time.monotonic()
    r = subprocess.run([BIN] + list(args), capture_output=True, text=True,
                       env={**os.environ, "ONEFILE_LOG_LEVEL": "warn"})
    if r.returncode != 0:
        sys.exit("bench: %s failed (%d):\n%s%s" % (" ".join(args), r.returncode, r.stdout,
                                                  r.stderr[-3000:]))
    return time.monotonic() - t0, r.stdout


def main():
    shutil.rmtree(DIR, ignore_errors=True)
    mig = os.path.join(DIR, "migrations")
    os.makedirs(mig)
    db = os.path.join(DIR, "site.db")
    with open(os.path.join(mig, "0001_items.sql"), "w") as f:
        f.write(INIT)
    run("migrate", "--db", db)
    con = sqlite3.connect(db)
    con.executemany("INSERT INTO items (sku, price, qty) VALUES (?, ?, ?)",
                    (("sku-%07d" % i, "%d.%02d" % (i % 500, i % 100), i % 1000)
                     for i in range(ROWS)))
    con.executemany("INSERT INTO orders (item_id) VALUES (?)",
                    ((1 + i * 97 % ROWS,) for i in range(10000)))
    con.commit()
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()

    # reference: the rows copied by hand into a new table with its two indexes
    ref = os.path.join(DIR, "reference.db")
    shutil.copy(db, ref)
    con = sqlite3.connect(ref)
    t0 = time.monotonic()
    con.executescript("BEGIN; CREATE TABLE items2 (id INTEGER PRIMARY KEY, sku TEXT NOT NULL,"
                      " price REAL, qty INTEGER); INSERT INTO items2 SELECT * FROM items;"
                      " CREATE UNIQUE INDEX items2_sku ON items2(sku);"
                      " CREATE INDEX items2_qty ON items2(qty); COMMIT;")
    reference = time.monotonic() - t0
    con.close()
    os.remove(ref)

    with open(os.path.join(mig, "0002_price_real.sql"), "w") as f:
        f.write(REBUILD)
    dry_s, out = run("migrate", "--db", db, "--dry-run", "--json")
    dry = json.loads(out)
    real_s, _ = run("migrate", "--db", db)

    con = sqlite3.connect(db)
    con.execute("PRAGMA foreign_keys=ON")
    checks = {
        "rows kept": con.execute("SELECT count(*) FROM items").fetchone()[0] == ROWS,
        "price is REAL": con.execute("SELECT type FROM pragma_table_info('items') "
                                     "WHERE name='price'").fetchone()[0] == "REAL",
        "indexes kept": sorted(r[1] for r in con.execute("PRAGMA index_list('items')"))
        == ["items_qty", "items_sku"],
        "trigger kept": con.execute("SELECT count(*) FROM sqlite_schema WHERE type='trigger' "
                                    "AND name='items_audit'").fetchone()[0] == 1,
        "prices converted": con.execute("SELECT typeof(price) FROM items WHERE id = 2")
        .fetchone()[0] == "real",
        "integrity ok": con.execute("PRAGMA integrity_check").fetchone()[0] == "ok",
        "no FK violation": con.execute("PRAGMA foreign_key_check").fetchall() == [],
    }
    con.execute("UPDATE items SET price = 1.5 WHERE id = 1")
    checks["trigger fires"] = con.execute("SELECT count(*) FROM audit").fetchone()[0] == 1
    try:
        con.execute("INSERT INTO orders (item_id) VALUES (?)", (ROWS + 10,))
        checks["foreign key enforced"] = False
    except sqlite3.IntegrityError:
        checks["foreign key enforced"] = True
    con.rollback()
    con.close()

    print("table rebuild, %d rows, 2 indexes, a trigger, a foreign key into it" % ROWS)
    print("  reference (copy rows + build 2 indexes by hand) %8.2f s   1.00x" % reference)
    print("  onefile migrate (rebuild, real)                  %8.2f s  %5.2fx"
          % (real_s, real_s / reference))
    print("  onefile migrate --dry-run (copy + rebuild + checks) %5.2f s  %5.2fx  (copy %.0f ms)"
          % (dry_s, dry_s / reference, dry["copy_ms"]))
    ok = all(checks.values())
    for name, passed in checks.items():
        print("  %s %s" % ("PASS" if passed else "FAIL", name))
    shutil.rmtree(DIR, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
