#!/usr/bin/env python3
"""`make bench` part 4: what readers see - many URLs, writes flowing - against nginx
tuned as a good operator would, serving the same pages exported to files, in one run.

For each site size (BENCH_POSTS, default "1000,100000" published posts of ~1.8 KB of
Markdown), onefile serves the database at its default log level (info: one line per
request, to a file) while a writer thread sends BENCH_WRITES_PER_S (50) API writes (new
drafts) and every post read counts a page view. Every page (home pages, every post and
its API read, the API's first list page, feed, sitemap, style.css) is then fetched from
onefile and written to files, with a .gz beside each (gzip -6): nginx serves them with
sendfile, open_file_cache, gzip_static and a buffered access log (buffer=64k flush=1s),
worker_processes auto. wrk -t2 -c64 (BENCH_SECONDS, 5 s a row) picks a random URL of the
row's set for every request. Printed per row: req/s of each, the ratio onefile/nginx,
p99 of each, and onefile's RSS after the row. The machine may be shared: only the ratios,
measured minutes apart in the same run, mean anything.
usage: bench/read_path.py ONEFILE_BIN DIR
"""
import gzip
import json
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
import http.client

BIN, DIR = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))
SIZES = [int(n) for n in os.environ.get("BENCH_POSTS", "1000,100000").split(",")]
WRITES = float(os.environ.get("BENCH_WRITES_PER_S", "50"))
HOME_PAGES = 100  # random home pages among the first 100 (or fewer on a small site)

LUA = """
local paths = {}
for line in io.lines(os.getenv("BENCH_PATHS")) do paths[#paths + 1] = line end
local ae = os.getenv("BENCH_AE")
if ae and ae ~= "" then wrk.headers["Accept-Encoding"] = ae end
local n = #paths
function setup(thread) thread:set("seed", math.random(1, 1000000)) end
function init(args) math.randomseed(seed + os.time()) end
function request() return wrk.format("GET", paths[math.random(n)]) end
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, what):
    for _ in range(600):
        if proc.poll() is not None:
            sys.exit("bench: %s exited" % what)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit("bench: %s did not start" % what)


def rss_mib(pids):
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/status" % pid) as f:
                total += int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))
        except OSError:
            pass
    return total / 1024.0


def nginx_pids(master):
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(master)], capture_output=True,
                         text=True).stdout.split()
    return [master] + [int(p) for p in out]


def wrk(base, paths_file, ae, lua):
    env = {**os.environ, "BENCH_PATHS": paths_file, "BENCH_AE": ae or ""}
    out = subprocess.run(["wrk", "-t2", "-c64", "-d%ds" % SECONDS, "--latency", "-s", lua,
                          base], capture_output=True, text=True, env=env,
                         timeout=SECONDS + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, float(p99.group(1)) * scale, int(bad.group(1)) if bad else 0


def seed(db, n):
    """n published posts (and two pages), written straight into the file before serve."""
    para = ("A paragraph of a typical post, with *some* emphasis, a [link](https://example.org/) "
            "and enough words to look like writing. ")
    con = sqlite3.connect(db)
    with con:
        rows = []
        for i in range(n):
            body = "\n\n".join(para * 3 for _ in range(5))  # ~1.8 KB of Markdown
            t = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(1700000000 + i * 60))
            rows.append(("post-%d" % i, "Post number %d" % i, body, "post", "published", t, t, t))
        rows.append(("about", "About", para * 4, "page", "published", t, t, t))
        rows.append(("colophon", "Colophon", para * 2, "page", "published", t, t, t))
        con.executemany("INSERT INTO posts (slug, title, body_md, kind, status, published_at, "
                        "created_at, updated_at) VALUES (?,?,?,?,?,?,?,?)", rows)
    ids = [r[0] for r in con.execute("SELECT id FROM posts WHERE kind = 'post'")]
    con.close()
    return ids


def export(port, www, routes):
    """Fetches every onefile URL of every route and writes it (and its .gz) under www at
    the nginx URL of the same page."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for pairs in routes.values():
        for opath, npath in pairs:
            conn.request("GET", opath)
            resp = conn.getresponse()
            data = resp.read()
            if resp.status != 200:
                sys.exit("bench: %s answered %d" % (opath, resp.status))
            f = os.path.join(www, npath.lstrip("/"))
            os.makedirs(os.path.dirname(f), exist_ok=True)
            with open(f, "wb") as out:
                out.write(data)
            with open(f + ".gz", "wb") as out:
                out.write(gzip.compress(data, 6))
    conn.close()


def writer(port, token, stop, counts):
    """WRITES API writes a second (new drafts), on one keep-alive connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    i, t0 = 0, time.monotonic()
    while not stop.is_set():
        body = json.dumps({"title": "Draft %d" % i, "body_md": "Written during the run."})
        try:
            conn.request("POST", "/api/v1/posts", body=body, headers={
                "Authorization": "Bearer " + token, "Content-Type": "application/json"})
            resp = conn.getresponse()
            resp.read()
            counts["ok" if resp.status == 201 else "bad"] += 1
        except (OSError, http.client.HTTPException):
            counts["bad"] += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        i += 1
        delay = t0 + i / WRITES - time.monotonic()
        if delay > 0:
            stop.wait(delay)
    conn.close()


def one_size(n, work):
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    os.chmod(work, 0o755)
    db = os.path.join(work, "site.db")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONEFILE_")}
    subprocess.run([BIN, "migrate", "--db", db], env=env, check=True, capture_output=True)
    token = subprocess.run([BIN, "token", "create", "bench", "--db", db], env=env, check=True,
                           capture_output=True, text=True).stdout.strip()
    ids = seed(db, n)
    pages = min(HOME_PAGES, max(1, n // 10))
    routes = {
        "home /?page=N": [("/" if p == 1 else "/?page=%d" % p, "/page/%d.html" % p)
                          for p in range(1, pages + 1)],
        "post /posts/{slug}": [("/posts/post-%d" % i, "/posts/post-%d.html" % i)
                               for i in range(n)],
        "api /api/v1/posts/{id}": [("/api/v1/posts/%d" % i, "/api/v1/posts/%d.json" % i)
                                   for i in ids],
        "api list /api/v1/posts": [("/api/v1/posts", "/api/v1/posts.json")],
        "feed /feed.xml": [("/feed.xml", "/feed.xml")],
        "sitemap /sitemap.xml": [("/sitemap.xml", "/sitemap.xml")],
        "static /static/style.css": [("/static/style.css", "/static/style.css")],
    }
    port, nport = free_port(), free_port()
    log = open(os.path.join(work, "onefile.log"), "wb")
    srv = subprocess.Popen([BIN, "serve", "--db", db, "--listen", "127.0.0.1:%d" % port],
                           env=env, stdout=log, stderr=log)
    nginx = None
    stop = threading.Event()
    counts = {"ok": 0, "bad": 0}
    try:
        wait_port(port, srv, "onefile")
        www = os.path.join(work, "www")
        t0 = time.monotonic()
        export(port, www, routes)
        export_s = time.monotonic() - t0
        conf = os.path.join(work, "nginx.conf")
        with open(conf, "w") as f:
            f.write("""worker_processes auto;
error_log %(w)s/nginx-error.log;
pid %(w)s/nginx.pid;
events { worker_connections 1024; }
http {
  include /etc/nginx/mime.types;
  types { application/json json; }
  default_type text/html;
  access_log %(w)s/nginx-access.log combined buffer=64k flush=1s;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  open_file_cache max=200000 inactive=60s;
  open_file_cache_valid 60s;
  open_file_cache_errors on;
  gzip_static on;
  gzip_vary on;
  server { listen 127.0.0.1:%(p)d; root %(r)s; }
}
""" % {"w": work, "p": nport, "r": www})
        nginx = subprocess.Popen(["nginx", "-c", conf, "-p", work, "-g", "daemon off;"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(nport, nginx, "nginx")
        lua = os.path.join(work, "random.lua")
        with open(lua, "w") as f:
            f.write(LUA)
        wt = threading.Thread(target=writer, args=(port, token, stop, counts), daemon=True)
        wt.start()
        print("%d posts (export of %d URLs to files: %.0f s; %.0f API writes/s flowing)" %
              (n, sum(len(v) for v in routes.values()), export_s, WRITES))
        print("%-28s %6s %10s %10s %7s %9s %9s %9s" % ("route", "coding", "onefile/s",
                                                       "nginx/s", "ratio", "p99 1file",
                                                       "p99 nginx", "RSS MiB"))
        rows = [(name, None) for name in routes] + [
            ("home /?page=N", "gzip"), ("post /posts/{slug}", "gzip"),
            ("static /static/style.css", "gzip")]
        for name, ae in rows:
            ofile, nfile = os.path.join(work, "o.paths"), os.path.join(work, "n.paths")
            with open(ofile, "w") as fo, open(nfile, "w") as fn:
                for opath, npath in routes[name]:
                    fo.write(opath + "\n")
                    fn.write(npath + "\n")
            nr, np99, nbad = wrk("http://127.0.0.1:%d" % nport, nfile, ae, lua)
            orate, op99, obad = wrk("http://127.0.0.1:%d" % port, ofile, ae, lua)
            note = " (non-2xx: onefile %d, nginx %d)" % (obad, nbad) if obad or nbad else ""
            print("%-28s %6s %10.0f %10.0f %6.2fx %7.2fms %7.2fms %9.1f%s" %
                  (name, ae or "-", orate, nr, orate / nr, op99, np99, rss_mib([srv.pid]), note),
                  flush=True)
        print("onefile RSS %.1f MiB (ONEFILE_CACHE_BYTES 64 MiB), nginx RSS %.1f MiB; "
              "API writes during the run: %d ok, %d failed" %
              (rss_mib([srv.pid]), rss_mib(nginx_pids(nginx.pid)), counts["ok"],
               counts["bad"]))
        return counts["bad"] == 0
    finally:
        stop.set()
        for p in (srv, nginx):
            if p and p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
        log.close()


def main():
    ok = True
    for n in SIZES:
        ok = one_size(n, os.path.join(DIR, "posts-%d" % n)) and ok
        print()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
