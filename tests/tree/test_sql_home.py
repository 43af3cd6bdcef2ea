#!/usr/bin/env python3
"""test_sql_home.py - keeps the application's SQL in src/store/ and the engine in src/db/.

Fails, naming file and line, when the source tree breaks one of these rules:

  1. an SQL statement in a string literal (SELECT ..., INSERT INTO, UPDATE ... SET,
     DELETE FROM, PRAGMA name) outside src/db/ and src/store/;
  2. SQLite itself (a sqlite3_ call, a sqlite3 / sqlite3_stmt pointer, <sqlite3.h>)
     outside src/db/: store code is written against db/driver.h only;
  3. db/sqlite.h (the SQLite driver, which hands out raw handles) included outside src/db/
     and src/cmd/ (commands open their connections and pass the migration and check
     tools, which are SQLite-only, their handle);
  4. a store file including anything of src/ but core/, db/driver.h and store/.

The allow-list below is for the SQLite-only tools; each entry says why. The detectors are
checked on planted lines first, so the test fails if they stop seeing anything.
"""
import os
import re
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SRC = os.path.join(ROOT, "src")

# (rule, path under src/): the few places allowed to break a rule, and why.
ALLOW = {
    # none today: check, profile and snapshot live in src/db/; the commands reach them
    # through db/ functions.
}

LITERAL = re.compile(r'"(?:[^"\\\n]|\\.)*"(?:\s*"(?:[^"\\\n]|\\.)*")*')
STATEMENT = re.compile(r"\b(SELECT\s+\S|INSERT\s+(OR\s+\w+\s+)?INTO\b|UPDATE\s+(OR\s+\w+\s+)?\w+\s+SET\b"
                       r"|DELETE\s+FROM\b|PRAGMA\s+\w+\s*(\(|=|\"|$))")
SQLITE = re.compile(r"\bsqlite3_\w+\s*\(|\bsqlite3(_stmt)?\s*\*|#include\s*<sqlite3\.h>")
INCLUDE = re.compile(r'#include\s*"([^"]+)"')


def strip_comments(text):
    """Comments out, line numbers kept."""
    def blank(m):
        return re.sub(r"[^\n]", " ", m.group(0))
    text = re.sub(r"/\*.*?\*/", blank, text, flags=re.S)
    return re.sub(r"//[^\n]*", blank, text)


def findings(rel, text):
    """(rule, line, excerpt) for one file, rel its path under src/."""
    out = []
    folder = rel.split("/")[0] if "/" in rel else "."
    code = strip_comments(text)
    line_of = lambda pos: code.count("\n", 0, pos) + 1
    if folder not in ("db", "store"):
        for m in LITERAL.finditer(code):
            if STATEMENT.search(m.group(0)):
                out.append((1, line_of(m.start()), m.group(0)[:60]))
    if folder != "db":
        for m in SQLITE.finditer(code):
            out.append((2, line_of(m.start()), m.group(0)))
    for m in INCLUDE.finditer(code):
        inc = m.group(1)
        if inc == "db/sqlite.h" and folder not in ("db", "cmd"):
            out.append((3, line_of(m.start()), m.group(0)))
        if folder == "store" and not (inc.startswith("core/") or inc.startswith("store/")
                                      or inc == "db/driver.h"):
            out.append((4, line_of(m.start()), m.group(0)))
    return [f for f in out if (f[0], rel) not in ALLOW]


def self_test():
    planted = {
        "jobs/x.c": ('x = "SELECT id FROM jobs";\n'
                     'y = "UPDATE jobs " "SET a = 1";\n'
                     'sqlite3_step(st);\n'
                     '#include "db/sqlite.h"\n', {1, 2, 3}),
        "site/y.c": ('/* "SELECT id FROM posts" in a comment is fine */\n'
                     'm = "DELETE";\n  help = "PRAGMA synchronous: full or normal";\n', set()),
        "store/z.c": ('#include "http/request.h"\n#include <sqlite3.h>\n'
                      's = "SELECT 1";\n', {2, 4}),
        "db/w.c": ('s = "PRAGMA journal_mode=WAL"; sqlite3_exec(db, s, 0, 0, 0);\n', set()),
    }
    ok = True
    for rel, (text, want) in planted.items():
        got = {f[0] for f in findings(rel, text)}
        if got != want:
            print(f"self-test: {rel}: rules {sorted(got)}, expected {sorted(want)}")
            ok = False
    return ok


def main():
    if not self_test():
        return 1
    problems = []
    for folder, _, files in os.walk(SRC):
        for name in sorted(files):
            if not name.endswith((".c", ".h")):
                continue
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, SRC)
            with open(path, encoding="utf-8") as f:
                for rule, line, what in findings(rel, f.read()):
                    problems.append(f"src/{rel}:{line}: rule {rule}: {what}")
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} place(s) break the SQL home rules (see this file's header)")
        return 1
    print("SQL home: every statement in src/db/ or src/store/, SQLite only in src/db/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
