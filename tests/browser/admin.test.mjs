// The admin panel in a real browser: headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core, no browser download) against the real `onefile serve` on a fresh file.
// Login wrong then right, the dashboard's pragma facts against `onefile check --json`, a post
// written in the editor with a live Markdown preview, seen and edited on the public site, a
// request without the CSRF token refused, logout, and the back button showing nothing private.
// Screenshots (and the server's log) land in $ONEFILE_BROWSER_OUTPUT, by default browser-output/
// under the working directory (CTest's: build-*/tests/browser-output).
//
// Run by CTest as browser/admin (after browser/npm-ci installs tests/browser/node_modules);
// by hand: ONEFILE_BIN=build/onefile node --test tests/browser/admin.test.mjs
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BIN = path.resolve(process.env.ONEFILE_BIN || path.join(HERE, '..', '..', 'build', 'onefile'));
const CHROMIUM = process.env.ONEFILE_CHROMIUM || '/usr/bin/chromium';
const OUT = path.resolve(process.env.ONEFILE_BROWSER_OUTPUT || 'browser-output');
const EMAIL = 'owner@example.org';
const PASSWORD = 'correct horse battery';
const TITLE = 'Written in Chromium';
const EDITED = 'Edited in Chromium';
const SLUG = 'written-in-chromium';
/** A small RGB PNG made here (zlib for IDAT, CRC-32 computed), for the media upload. */
function makePng(width, height) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (kind, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(kind, 'latin1'), data]);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(body));
    return Buffer.concat([len, body, sum]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const rows = [];
  for (let y = 0; y < height; y++) {
    rows.push(Buffer.from([0]));
    for (let x = 0; x < width; x++) rows.push(Buffer.from([(x * 9) & 255, (y * 5) & 255, 128]));
  }
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(Buffer.concat(rows))), chunk('IEND', Buffer.alloc(0))]);
}
const SANITIZER_MARKS = ['AddressSanitizer', 'LeakSanitizer', 'runtime error:',
  'UndefinedBehaviorSanitizer'];

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const run = promisify(execFile);

/** The environment for a child: no ONEFILE_* or AWS_* from the caller, then `extra`. */
function cleanEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('ONEFILE_') && !k.startsWith('AWS_')) env[k] = v;
  }
  return { ...env, ...extra };
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** A running `onefile serve` on 127.0.0.1, its stderr in OUT/admin-serve.log. */
class Server {
  constructor(db, port, env) {
    this.db = db;
    this.port = port;
    this.base = `http://127.0.0.1:${port}`;
    this.logPath = path.join(OUT, 'admin-serve.log');
    this.log = fs.openSync(this.logPath, 'w');
    this.proc = spawn(BIN, ['serve', '--db', db, '--listen', `127.0.0.1:${port}`],
      { env, stdio: ['ignore', 'ignore', this.log] });
    this.exited = new Promise((resolve) => {
      this.proc.on('exit', (code, signal) => resolve({ code, signal }));
      this.proc.on('error', (error) => resolve({ code: null, signal: null, error }));
    });
    this.status = null;
    this.exited.then((s) => { this.status = s; });
  }

  stderr() {
    try {
      return fs.readFileSync(this.logPath, 'utf8');
    } catch {
      return '';
    }
  }

  async waitReady(timeoutMs = 30_000) {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.status) {
        throw new Error(`server exited (${JSON.stringify(this.status)}):\n${this.stderr()}`);
      }
      try {
        const res = await fetch(`${this.base}/healthz`, { signal: AbortSignal.timeout(2000) });
        await res.arrayBuffer();
        if (res.status === 200) return;
      } catch {
        // not listening yet
      }
      await sleep(50);
    }
    throw new Error(`server did not become healthy in ${timeoutMs} ms:\n${this.stderr()}`);
  }

  /** SIGTERM (SIGKILL after the deadline); returns {code, signal}. */
  async stop(timeoutMs = 20_000) {
    if (!this.status) {
      this.proc.kill('SIGTERM');
      let timer;
      const late = new Promise((resolve) => { timer = setTimeout(resolve, timeoutMs, 'late'); });
      if ((await Promise.race([this.exited, late])) === 'late') this.proc.kill('SIGKILL');
      clearTimeout(timer);
    }
    const status = await this.exited;
    try {
      fs.closeSync(this.log);
    } catch {
      // already closed
    }
    return status;
  }
}

describe('admin panel in headless Chromium', { timeout: 100_000 }, () => {
  let tmp;
  let server;
  let browser;
  let page;
  let editUrl;
  let failed = false;

  /** A sequential step; once one fails the rest are skipped, not failed again. */
  function step(name, fn) {
    it(name, { timeout: 60_000 }, async (t) => {
      if (failed) {
        t.skip('an earlier step failed');
        return;
      }
      try {
        await fn(t);
      } catch (e) {
        failed = true;
        if (page) {
          await page.screenshot({ path: path.join(OUT, 'failure.png'), fullPage: true, timeout: 5000 })
            .catch(() => {});
          e.message += `\n(page ${page.url()}; screenshot ${path.join(OUT, 'failure.png')})`;
        }
        if (server) e.message += `\nserver stderr (tail):\n${server.stderr().slice(-3000)}`;
        throw e;
      }
    });
  }

  /** Asserts that the page shows the login form and nothing only a session may see. */
  async function assertNothingPrivate(where) {
    const url = new URL(page.url());
    const body = await page.locator('body').innerText({ timeout: 5000 }).catch(() => '');
    assert.equal(url.pathname, '/admin/login', `${where}: not the login page (${page.url()}):\n${body}`);
    assert.equal(await page.locator('h1').first().textContent(), 'Log in', where);
    for (const text of ['Dashboard', 'Database health', TITLE, EDITED, EMAIL, 'Log out']) {
      assert.ok(!body.includes(text), `${where}: "${text}" visible without a session:\n${body}`);
    }
    assert.equal(await page.locator(`input[value="${EDITED}"]`).count(), 0, where);
    assert.equal(await page.locator('form[action="/admin/logout"]').count(), 0, where);
  }

  before(async () => {
    fs.mkdirSync(OUT, { recursive: true });
    for (const f of ['dashboard.png', 'editor.png', 'failure.png']) fs.rmSync(path.join(OUT, f), { force: true });
    assert.ok(fs.existsSync(BIN), `no onefile binary at ${BIN} (set ONEFILE_BIN)`);
    assert.ok(fs.existsSync(CHROMIUM), `no Chromium at ${CHROMIUM} (scripts/install-deps test)`);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'onefile-browser-'));
    const env = cleanEnv({ ONEFILE_ADMIN_EMAIL: EMAIL, ONEFILE_ADMIN_PASSWORD: PASSWORD });
    server = new Server(path.join(tmp, 'data', 'onefile.db'), await freePort(), env);
    await server.waitReady();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      timeout: 30_000,
      // root in CI: no sandbox; small /dev/shm in containers
      args: ['--no-sandbox', '--disable-dev-shm-usage'],
      env: cleanEnv(),
    });
    const context = await browser.newContext({ baseURL: server.base, viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
    page.setDefaultNavigationTimeout(20_000);
  }, { timeout: 60_000 });

  after(async () => {
    // also on failure: the browser closed, the server stopped, the scratch file removed
    try {
      if (browser) await browser.close().catch(() => {});
    } finally {
      if (server) await server.stop(5000);
      if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    }
  }, { timeout: 30_000 });

  async function login(password) {
    await page.goto('/admin/login');
    await page.fill('#email', EMAIL);
    await page.fill('#password', password);
    await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/admin/login'),
      page.getByRole('button', { name: 'Log in' }).click(),
    ]);
    await page.waitForLoadState('load');
  }

  step('a wrong password shows an error and stays on the login page', async () => {
    await login('wrong password!');
    await page.getByRole('alert').filter({ hasText: 'Wrong email or password.' }).waitFor();
    assert.equal(new URL(page.url()).pathname, '/admin/login');
    assert.equal(await page.locator('h1').textContent(), 'Log in');
    assert.equal(await page.getByRole('heading', { name: 'Dashboard' }).count(), 0);
  });

  step('the right password opens the dashboard', async () => {
    await login(PASSWORD);
    await page.waitForURL((u) => u.pathname === '/admin');
    await page.getByRole('heading', { name: 'Dashboard', level: 1 }).waitFor();
    await page.getByRole('button', { name: `Log out ${EMAIL}` }).waitFor();
  });

  step('the dashboard shows the pragma values that `onefile check --json` reads', async () => {
    const fact = async (name) => (await page.locator(`dd[data-fact=${name}]`).textContent()).trim();
    const shown = {
      journal_mode: await fact('journal_mode'),
      page_size: Number(await fact('page_size')),
      page_count: Number(await fact('page_count')),
    };
    const { stdout } = await run(BIN, ['check', '--db', server.db, '--json'],
      { env: cleanEnv(), timeout: 30_000, maxBuffer: 16 << 20 });
    const report = JSON.parse(stdout);
    assert.deepEqual(shown, {
      journal_mode: report.journal_mode,
      page_size: report.page_size,
      page_count: report.page_count,
    });
    assert.equal(shown.journal_mode, 'wal');
    await page.screenshot({ path: path.join(OUT, 'dashboard.png'), fullPage: true });
  });

  step('a post written in the editor, with a live preview of its Markdown', async () => {
    await page.goto('/admin/posts/new');
    await page.getByRole('heading', { name: 'New post' }).waitFor();
    await page.fill('#title', TITLE);
    await page.fill('#slug', SLUG);
    await page.selectOption('#kind', 'post');
    await page.selectOption('#status', 'published');
    const editor = page.locator('#body_md');
    await editor.click();
    await editor.pressSequentially('Some **bold** words and a [link](/about).', { delay: 5 });
    // rendered by the server (POST /admin/preview) after admin.js's 250 ms pause
    await page.locator('#preview strong').filter({ hasText: 'bold' }).waitFor();
    assert.equal(await page.locator('#preview a[href="/about"]').textContent(), 'link');
    await page.screenshot({ path: path.join(OUT, 'editor.png'), fullPage: true });
    await Promise.all([
      page.waitForURL(/\/admin\/posts\/\d+\/edit\?done=post-created$/),
      page.locator('form.editor button[type=submit]').click(),
    ]);
    assert.equal(await page.getByRole('status').textContent(), 'Created.');
    editUrl = new URL(page.url()).pathname;
    assert.equal(await page.inputValue('#title'), TITLE);
    assert.match(await page.inputValue('#body_md'), /\*\*bold\*\*/);
  });

  step('the post is on the public site with its Markdown rendered', async () => {
    const res = await page.goto(`/posts/${SLUG}`);
    assert.equal(res.status(), 200);
    await page.getByRole('heading', { name: TITLE, level: 1 }).waitFor();
    assert.equal(await page.locator('article .body strong').textContent(), 'bold');
    assert.equal(await page.locator('article .body a[href="/about"]').textContent(), 'link');
    assert.ok(!(await page.content()).includes('**bold**'));
  });

  step('an edited title shows on the public site', async () => {
    await page.goto(editUrl);
    await page.fill('#title', EDITED);
    await Promise.all([
      page.waitForURL((u) => u.pathname === editUrl && u.search === '?done=post-saved'),
      page.locator('form.editor button[type=submit]').click(),
    ]);
    assert.equal(await page.getByRole('status').textContent(), 'Saved.');
    assert.equal(await page.inputValue('#title'), EDITED);
    const res = await page.goto(`/posts/${SLUG}`);
    assert.equal(res.status(), 200);
    await page.getByRole('heading', { name: EDITED, level: 1 }).waitFor();
    assert.ok(!(await page.locator('body').innerText()).includes(TITLE));
    assert.equal(await page.locator('article .body strong').textContent(), 'bold');
  });

  step('media: two files chosen at once upload with progress and show in the library', async () => {
    await page.goto('/admin/media');
    await page.getByRole('heading', { name: 'Media', level: 1 }).waitFor();
    assert.equal(await page.locator('#media-file').evaluate((el) => el.multiple), true);
    await page.setInputFiles('#media-file', [
      { name: 'from chromium.png', mimeType: 'image/png', buffer: makePng(40, 30) },
      { name: 'second.png', mimeType: 'image/png', buffer: makePng(20, 10) },
    ]);
    await Promise.all([
      page.waitForNavigation({ waitUntil: 'load' }), // the page reloads once both are in
      page.getByRole('button', { name: 'Upload', exact: true }).click(),
    ]);
    const text = await page.locator('main').innerText();
    assert.ok(text.includes('2 file(s)'), text);
    assert.ok(text.includes('from-chromium.png') && text.includes('second.png'), text);
    const img = page.locator('img[src*="/media/"]').first();
    await img.waitFor();
    assert.ok(await img.evaluate((el) => el.complete && el.naturalWidth > 0), 'the thumbnail did not load');
    const md = await page.getByLabel('Markdown for from-chromium.png').inputValue();
    assert.match(md, /^!\[from-chromium\.png\]\(\/media\/[0-9a-f]{64}\/from-chromium\.png\)$/);
  });

  step('requests without the CSRF token are refused with 403', async () => {
    await page.goto('/admin/posts/new');
    // a same-origin fetch with the session cookie but no _csrf field
    const status = await page.evaluate(async () => {
      const body = new URLSearchParams({ title: 'No token (fetch)', body_md: 'x' });
      const r = await fetch('/admin/posts', { method: 'POST', body, credentials: 'same-origin', redirect: 'manual' });
      return r.status;
    });
    assert.equal(status, 403);
    // the real form, its hidden token removed
    await page.fill('#title', 'No token (form)');
    await page.locator('form.editor input[name="_csrf"]').evaluate((el) => el.remove());
    const [res] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/admin/posts'),
      page.locator('form.editor button[type=submit]').click(),
    ]);
    assert.equal(res.status(), 403);
    await page.waitForLoadState('load');
    await page.goto('/admin/posts');
    const list = await page.locator('main').innerText();
    assert.ok(list.includes(EDITED), list);
    assert.ok(!list.includes('No token'), `a post was created without a token:\n${list}`);
  });

  step('after logout, going back shows no private page', async () => {
    // history before logout: ... posts list, editor (with the title), dashboard
    await page.goto(editUrl);
    assert.equal(await page.inputValue('#title'), EDITED);
    const res = await page.goto('/admin');
    assert.equal(res.headers()['cache-control'], 'no-store');
    await page.getByRole('heading', { name: 'Dashboard', level: 1 }).waitFor();
    await Promise.all([
      page.waitForURL((u) => u.pathname === '/admin/login'),
      page.getByRole('button', { name: `Log out ${EMAIL}` }).click(),
    ]);
    await page.getByRole('heading', { name: 'Log in', level: 1 }).waitFor();
    for (const was of ['dashboard', 'editor', 'posts list']) {
      await page.goBack({ waitUntil: 'load' });
      await assertNothingPrivate(`back to the ${was}`);
      await page.reload({ waitUntil: 'load' });
      await assertNothingPrivate(`back to the ${was}, reloaded`);
    }
    // and the session is really over, not just hidden
    const direct = await page.goto('/admin/posts');
    assert.equal(new URL(direct.url()).pathname, '/admin/login');
    await assertNothingPrivate('/admin/posts after logout');
  });

  step('screenshots of the dashboard and the editor were saved', async () => {
    for (const f of ['dashboard.png', 'editor.png']) {
      const file = path.join(OUT, f);
      const { size } = fs.statSync(file);
      assert.ok(size > 1000, `${file}: ${size} bytes`);
      const head = Buffer.alloc(8);
      const fd = fs.openSync(file, 'r');
      fs.readSync(fd, head, 0, 8, 0);
      fs.closeSync(fd);
      assert.deepEqual([...head], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], `${file}: not a PNG`);
    }
  });

  step('the server stops cleanly on SIGTERM', async () => {
    await browser.close();
    browser = null;
    const { code, signal } = await server.stop();
    const stderr = server.stderr();
    server = null;
    assert.equal(signal, null, `serve killed by ${signal}:\n${stderr.slice(-3000)}`);
    assert.equal(code, 0, `serve exited ${code}:\n${stderr.slice(-3000)}`);
    for (const mark of SANITIZER_MARKS) {
      assert.ok(!stderr.includes(mark), `sanitizer report:\n${stderr.slice(-4000)}`);
    }
  });
});
