// Tessera dashboard: a hash-routed single page over the coordinator's JSON API.
// No framework and no build step: the coordinator embeds this file as it is.
'use strict';

const TOKEN_KEY = 'tessera.token';
const REFRESH_MS = 2000;
// The longest side a frame's preview canvas has (larger frames are shown scaled down).
const PREVIEW_SIDE = 1024;
const $ = (id) => document.getElementById(id);

const app = {
  token: sessionStorage.getItem(TOKEN_KEY), // sessionStorage: gone when the tab closes
  me: null,
  page: null, // the current page's lifetime: see enterPage()
};

// ---------------------------------------------------------------- helpers

const ESC = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
// Every server value that goes into an HTML string passes through here: scene names,
// tenants, worker names and errors are untrusted.
const esc = (v) => String(v ?? '').replace(/[&<>"']/g, (c) => ESC[c]);

// Micro-dollars are integers; format them without floating point so 6 decimals are exact.
function usd(micros) {
  if (micros === null || micros === undefined) return '—';
  const n = Math.round(Number(micros));
  const abs = Math.abs(n);
  return `${n < 0 ? '-' : ''}$${Math.floor(abs / 1e6)}.${String(abs % 1e6).padStart(6, '0')}`;
}

// Absolute local times, so a row's HTML does not change on every refresh.
function when(secs) {
  if (secs === null || secs === undefined) return '—';
  const d = new Date(secs * 1000);
  const p = (x) => String(x).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

function duration(secs) {
  let s = Math.max(0, Math.floor(secs));
  const d = Math.floor(s / 86400); s -= d * 86400;
  const h = Math.floor(s / 3600); s -= h * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  if (m) return `${m}m ${s}s`;
  return `${s}s`;
}

function renderTime(micros) {
  const ms = micros / 1000;
  return ms < 1000 ? `${ms.toFixed(1)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

function progressHtml(done, total) {
  const pct = total > 0 ? Math.min(100, (100 * done) / total) : 0;
  return `<div class="bar"><div style="width:${pct.toFixed(1)}%"></div></div>` +
    `<span class="progress-text">${esc(done)}/${esc(total)}</span>`;
}

const stateBadge = (s) => `<span class="state state-${esc(s)}">${esc(s)}</span>`;

// ---------------------------------------------------------------- errors

// Errors from polling clear themselves when the next poll succeeds; errors from an action
// (cancel, drain, login) stay until dismissed or replaced, so they cannot be missed.
function showError(msg, fromPoll = false) {
  const b = $('error-banner');
  b.textContent = msg;
  b.dataset.source = fromPoll ? 'poll' : 'action';
  b.hidden = false;
}

function clearError(onlyPoll = false) {
  const b = $('error-banner');
  if (!onlyPoll || b.dataset.source === 'poll') b.hidden = true;
}

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

// Reports a failed call unless it was cancelled by leaving the page or already handled (401).
function report(err, fromPoll = false) {
  if (err.name === 'AbortError' || err.status === 401) return;
  const msg = err instanceof ApiError ? err.message : `Cannot reach the coordinator (${err.message})`;
  showError(msg, fromPoll);
}

// ---------------------------------------------------------------- API

// One place for the token, JSON errors and 401 handling. `as`: 'json', 'blob' or 'response'.
async function api(path, { method = 'GET', signal, as = 'json' } = {}) {
  if (!app.token) throw new ApiError(401, 'not logged in');
  const res = await fetch(path, { method, signal, headers: { Authorization: `Bearer ${app.token}` } });
  if (!res.ok) {
    let msg = `${res.status} ${res.statusText}`;
    try { msg = (await res.json()).error || msg; } catch (_) { /* not JSON: keep the status */ }
    if (res.status === 401) logout(`Logged out: ${msg}`);
    throw new ApiError(res.status, msg);
  }
  if (as === 'response') return res;
  if (as === 'blob') return res.blob();
  return res.status === 204 ? null : res.json();
}

// ---------------------------------------------------------------- login

async function login(token) {
  app.token = token;
  try {
    app.me = await api('/api/me');
  } catch (e) {
    if (e.status !== 401) { app.token = null; report(e); }
    return showLogin();
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  $('who-name').textContent = app.me.name;
  $('who-role').textContent = app.me.role;
  $('who-tenant').textContent = app.me.tenant ? `tenant ${app.me.tenant}` : '';
  $('whoami').hidden = false;
  $('nav').hidden = false;
  $('nav-workers').hidden = !isAdmin();
  $('tenant-filter-label').hidden = !isAdmin();
  route();
}

function logout(message) {
  leavePage();
  app.token = null;
  app.me = null;
  sessionStorage.removeItem(TOKEN_KEY);
  // Drop everything shown of the farm: the next login may be someone else.
  jobRows.clear();
  workerRows.clear();
  for (const id of ['jobs-table', 'workers-table']) $(id).tBodies[0].replaceChildren();
  clearJobView();
  jv = null;
  $('whoami').hidden = true;
  $('nav').hidden = true;
  showLogin();
  if (message) showError(message); else clearError();
}

function showLogin() {
  showView('login-view');
  $('token-input').value = '';
  $('token-input').focus();
}

const isAdmin = () => app.me && app.me.role === 'admin';

// ---------------------------------------------------------------- routing

// A page's lifetime: leaving it aborts its requests and its stream, stops its timers and
// frees its object URLs, so nothing of an old page writes into a new one.
function enterPage() {
  leavePage();
  const page = { ctl: new AbortController(), timers: new Set(), urls: [] };
  page.signal = page.ctl.signal;
  page.later = (fn, ms) => {
    const t = setTimeout(() => { page.timers.delete(t); if (!page.signal.aborted) fn(); }, ms);
    page.timers.add(t);
  };
  app.page = page;
  return page;
}

function leavePage() {
  const page = app.page;
  if (!page) return;
  page.ctl.abort();
  page.timers.forEach(clearTimeout);
  page.urls.forEach((u) => URL.revokeObjectURL(u));
  app.page = null;
}

// Calls `fn` now and every REFRESH_MS after each run ends (never two at once).
function poll(page, fn) {
  const tick = async () => {
    try { await fn(); clearError(true); } catch (e) { report(e, true); }
    page.later(tick, REFRESH_MS);
  };
  tick();
}

function showView(id) {
  for (const v of document.querySelectorAll('main > section')) v.hidden = v.id !== id;
  for (const a of document.querySelectorAll('#nav a')) {
    a.classList.toggle('active', location.hash.startsWith(a.getAttribute('href')));
  }
}

function route() {
  if (!app.me) return;
  const hash = location.hash;
  let m;
  if (hash === '' || hash === '#' || hash === '#/') return location.replace('#/jobs');
  if (hash === '#/jobs') return showJobs();
  if ((m = /^#\/jobs\/(\d+)$/.exec(hash))) return showJob(Number(m[1]));
  if (hash === '#/workers') {
    if (isAdmin()) return showWorkers();
    return notFound('The workers page is for admins only.');
  }
  notFound('No such page.');
}

function notFound(text) {
  enterPage();
  showView('notfound-view');
  $('notfound-text').textContent = text;
}

// ---------------------------------------------------------------- keyed tables

// Brings tbody's rows in line with `items` (in that order): rows whose HTML is unchanged stay
// as they are; new and changed rows are parsed in one innerHTML pass. With 1,000 jobs a
// refresh that changes nothing touches no DOM at all.
function syncRows(tbody, cache, items, keyOf, rowHtml) {
  const changed = [];
  for (const item of items) {
    const key = String(keyOf(item));
    const html = rowHtml(item);
    const old = cache.get(key);
    if (!old || old.html !== html) changed.push({ key, html });
  }
  if (changed.length) {
    const tpl = document.createElement('template');
    tpl.innerHTML = changed.map((c) => c.html).join('');
    const rows = Array.from(tpl.content.children); // copy: moving rows out empties the live list
    changed.forEach(({ key, html }, i) => {
      const old = cache.get(key);
      if (old) old.tr.replaceWith(rows[i]);
      cache.set(key, { html, tr: rows[i] });
    });
  }
  const keep = new Set(items.map((it) => String(keyOf(it))));
  for (const [key, row] of cache) {
    if (!keep.has(key)) { row.tr.remove(); cache.delete(key); }
  }
  // Order: move only the rows that are out of place (none, usually).
  let prev = null;
  for (const item of items) {
    const tr = cache.get(String(keyOf(item))).tr;
    const expected = prev ? prev.nextSibling : tbody.firstChild;
    if (tr !== expected) tbody.insertBefore(tr, expected);
    prev = tr;
  }
}

// ---------------------------------------------------------------- jobs page

const jobRows = new Map();
let jobsSeq = 0; // only the latest request's answer is shown (filters may change mid-flight)

function jobRowHtml(j) {
  const id = esc(j.id);
  return `<tr data-job="${id}" data-state="${esc(j.state)}">` +
    `<td class="col-id"><a href="#/jobs/${id}">${id}</a></td>` +
    `<td class="col-scene"><a href="#/jobs/${id}">${esc(j.scene_name)}</a></td>` +
    `<td class="col-tenant">${esc(j.tenant)}</td>` +
    `<td class="col-state">${stateBadge(j.state)}</td>` +
    `<td class="col-progress">${progressHtml(j.tasks_done, j.tasks_total)}</td>` +
    `<td class="col-cost num">${esc(usd(j.cost))}</td>` +
    `<td class="col-quote num">${esc(j.quote ? usd(j.quote.cost) : '')}</td>` +
    `<td class="col-max-cost num">${esc(usd(j.max_cost))}</td>` +
    `<td class="col-submitted">${esc(when(j.submitted_at))}</td></tr>`;
}

async function refreshJobs(signal) {
  const seq = ++jobsSeq;
  // As many as a page holds: a studio's jobs of the week fit.
  const q = new URLSearchParams({ limit: '1000' });
  if ($('state-filter').value) q.set('state', $('state-filter').value);
  const tenant = $('tenant-filter').value.trim();
  if (isAdmin() && tenant) q.set('tenant', tenant);
  const res = await api(`/api/jobs?${q}`, { signal, as: 'response' });
  const jobs = await res.json();
  if (seq !== jobsSeq) return;
  // The newest page only: a Link to the next one means older jobs are not shown.
  const more = (res.headers.get('Link') || '').includes('rel="next"');
  syncRows($('jobs-table').tBodies[0], jobRows, jobs, (j) => j.id, jobRowHtml);
  $('jobs-count').textContent = more
    ? `the newest ${jobs.length} jobs`
    : `${jobs.length} job${jobs.length === 1 ? '' : 's'}`;
  $('jobs-empty').hidden = jobs.length > 0;
}

function showJobs() {
  const page = enterPage();
  showView('jobs-view');
  poll(page, () => refreshJobs(page.signal));
}

function refreshJobsNow() {
  const page = app.page;
  if (page && !$('jobs-view').hidden) refreshJobs(page.signal).catch((e) => report(e, true));
}

// ---------------------------------------------------------------- one job

// State of the job page; replaced on each visit.
let jv = null;

function showJob(id) {
  const page = enterPage();
  showView('job-view');
  jv = { id, page, job: null, live: false, frames: new Map(), tilesSeen: new Set(), extrasJson: '' };
  clearJobView();
  $('job-title').textContent = `Job ${id}`;

  const v = jv;
  api(`/api/jobs/${id}`, { signal: page.signal })
    .then((job) => { if (!v.job) renderJob(v, job); }) // the stream's first event may be newer
    .catch((e) => report(e));
  followEvents(v);
  // Failed tasks and the invoice change only while the job runs; the poll after it ends picks
  // up the final rows. While the stream is down, the poll keeps the header current instead.
  const tick = async () => {
    const wasRunning = !v.job || v.job.state === 'running';
    try {
      if (v.job && !v.live) renderJob(v, await api(`/api/jobs/${id}`, { signal: page.signal }));
      await refreshExtras(v);
      clearError(true);
    } catch (e) {
      report(e, true);
      if (e.status >= 400 && e.status < 500) return; // no such job (or not ours): stop asking
    }
    if (wasRunning) page.later(tick, REFRESH_MS);
  };
  tick();
}

function clearJobView() {
  for (const el of ['job-title', 'job-state', 'job-reason', 'job-progress', 'job-cost',
    'job-quote', 'job-max-cost', 'job-tenant', 'job-frames', 'job-size', 'job-submitted', 'job-finished',
    'stream-status', 'invoice-total']) {
    $(el).textContent = '';
  }
  $('job-bar').style.width = '0';
  $('tiles-drawn').textContent = '0';
  $('cancel-button').hidden = true;
  $('frame-list').replaceChildren();
  for (const t of ['failed-tasks-table', 'invoice-table', 'reversals-table']) $(t).tBodies[0].replaceChildren();
  $('failed-tasks-more').hidden = true;
  $('invoice-more').hidden = true;
}

// The quote made at submission: its cost, and its time while no worker was alive.
function quoteText(q) {
  if (!q) return 'none';
  const time = q.seconds === null ? 'no worker was alive' : `about ${duration(q.seconds)}`;
  return `${usd(q.cost)} (${time})`;
}

function renderJob(v, job) {
  v.job = job;
  $('job-title').textContent = `Job ${job.id}: ${job.scene_name}`;
  const st = $('job-state');
  st.textContent = job.state;
  st.className = `state state-${job.state}`;
  $('job-reason').textContent = job.reason || '';
  const pct = job.tasks_total > 0 ? (100 * job.tasks_done) / job.tasks_total : 0;
  $('job-bar').style.width = `${pct.toFixed(1)}%`;
  $('job-progress').textContent = `${job.tasks_done}/${job.tasks_total} tasks`;
  $('job-cost').textContent = usd(job.cost);
  $('job-quote').textContent = quoteText(job.quote);
  $('job-max-cost').textContent = job.max_cost === null ? 'no limit' : usd(job.max_cost);
  $('job-tenant').textContent = job.tenant;
  $('job-frames').textContent = job.frames;
  $('job-size').textContent = `${job.width}×${job.height}, ${job.spp} spp, ${job.tile}px tiles, priority ${job.priority}`;
  $('job-submitted').textContent = when(job.submitted_at);
  $('job-finished').textContent = when(job.finished_at);
  $('cancel-button').hidden = job.state !== 'running';
  for (const fp of job.frame_progress || []) renderFrame(v, job, fp);
}

// One <li> per frame, built once; later updates change only its text, bar and links.
function renderFrame(v, job, fp) {
  let f = v.frames.get(fp.frame);
  if (!f) {
    const li = document.createElement('li');
    li.className = 'frame';
    li.dataset.frame = fp.frame;
    li.innerHTML = `<div class="frame-head"><strong>Frame ${esc(fp.frame)}</strong>
      <div class="bar"><div></div></div><span class="frame-progress"></span>
      <span class="frame-links" hidden>
        <a class="download-exr" href="#" data-frame="${esc(fp.frame)}" data-format="exr">EXR</a>
        <a class="download-png" href="#" data-frame="${esc(fp.frame)}" data-format="png">PNG</a>
      </span></div>`;
    const canvas = document.createElement('canvas');
    canvas.className = 'frame-canvas';
    canvas.dataset.frame = fp.frame;
    // A preview, at most PREVIEW_SIDE a side: a job of a hundred 8192x8192 frames would
    // otherwise take 26 GB of canvases in the browser of whoever opens it.
    const scale = Math.min(1, PREVIEW_SIDE / Math.max(job.width, job.height));
    canvas.width = Math.max(1, Math.round(job.width * scale));
    canvas.height = Math.max(1, Math.round(job.height * scale));
    // Small renders are scaled up by whole steps so their pixels stay sharp.
    if (job.width < 256) canvas.style.width = `${job.width * Math.floor(256 / job.width)}px`;
    li.append(canvas);
    $('frame-list').append(li);
    f = { li, canvas, scale, ctx: canvas.getContext('2d'), chain: Promise.resolve(), final: false };
    v.frames.set(fp.frame, f);
  }
  f.li.querySelector('.bar > div').style.width =
    `${fp.tiles_total > 0 ? ((100 * fp.tiles_done) / fp.tiles_total).toFixed(1) : 0}%`;
  f.li.querySelector('.frame-progress').textContent =
    `${fp.tiles_done}/${fp.tiles_total} tiles${fp.written ? ', written' : ''}`;
  f.li.classList.toggle('written', !!fp.written);
  f.li.querySelector('.frame-links').hidden = !fp.written;
  // A written frame gets no more tiles: show its PNG (also when its `frame` event was missed).
  if (fp.written) drawFinal(v, fp.frame);
}

function loadImage(src) {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error('could not decode an image'));
    img.src = src;
  });
}

// Images decode in parallel but are drawn in arrival order per frame, so a slow tile can
// never land on top of the frame's final PNG.
function queueDraw(f, imagePromise, draw) {
  f.chain = f.chain.then(() => imagePromise).then(draw, () => {});
}

function drawTile(v, t) {
  const f = v.frames.get(t.frame);
  if (!f || f.final || !f.ctx) return;
  const key = `${t.frame}:${t.x}:${t.y}`;
  queueDraw(f, loadImage(`data:image/png;base64,${t.png}`), (img) => {
    if (v.page.signal.aborted) return;
    f.ctx.drawImage(img, Number(t.x) * f.scale, Number(t.y) * f.scale,
      img.width * f.scale, img.height * f.scale);
    // Distinct tiles: a reconnect resends tiles already drawn.
    v.tilesSeen.add(key);
    $('tiles-drawn').textContent = String(v.tilesSeen.size);
  });
}

function drawFinal(v, frame) {
  const f = v.frames.get(frame);
  if (!f || f.final || !f.ctx) return;
  f.final = true;
  const img = api(`/api/jobs/${v.id}/frames/${frame}.png`, { as: 'blob', signal: v.page.signal })
    .then((blob) => {
      const url = URL.createObjectURL(blob);
      return loadImage(url).finally(() => URL.revokeObjectURL(url));
    })
    .catch((e) => { f.final = false; report(e); throw e; });
  queueDraw(f, img, (im) => {
    if (v.page.signal.aborted) return;
    f.ctx.clearRect(0, 0, f.canvas.width, f.canvas.height);
    f.ctx.drawImage(im, 0, 0, f.canvas.width, f.canvas.height);
  });
}

// The most failed tasks and charges a job's page shows: a job may have 100,000 of each.
const EXTRAS_ROWS = 1000;

// The first page of a paged listing, and whether more follow it.
async function firstPage(path, signal) {
  const res = await api(`${path}${path.includes('?') ? '&' : '?'}limit=${EXTRAS_ROWS}`, { signal, as: 'response' });
  const more = /rel="next"/.test(res.headers.get('Link') || '');
  return { body: await res.json(), more };
}

async function refreshExtras(v) {
  const { signal } = v.page;
  const [failedPage, invoicePage] = await Promise.all([
    firstPage(`/api/jobs/${v.id}/tasks?state=failed`, signal),
    firstPage(`/api/jobs/${v.id}/invoice`, signal),
  ]);
  const [failed, invoice] = [failedPage.body, invoicePage.body];
  // Invoices of big jobs have thousands of rows: rebuild only when something changed.
  const json = JSON.stringify([failedPage, invoicePage]);
  if (json === v.extrasJson) return;
  v.extrasJson = json;
  $('failed-tasks-more').hidden = !failedPage.more;
  $('invoice-more').hidden = !invoicePage.more;
  $('invoice-more-job').textContent = String(v.id);
  $('failed-tasks-table').tBodies[0].innerHTML = failed.length
    ? failed.map((t) => `<tr data-task="${esc(t.id)}"><td>${esc(t.id)}</td><td>${esc(t.frame)}</td>` +
      `<td>${esc(t.tile)}</td><td class="num">${esc(t.attempts)}</td><td class="error-text">${esc(t.last_error)}</td></tr>`).join('')
    : '<tr class="empty"><td colspan="5">No failed tasks.</td></tr>';
  $('invoice-table').tBodies[0].innerHTML = invoice.rows.length
    ? invoice.rows.map((r) => `<tr data-task="${esc(r.task)}"><td>${esc(r.task)}</td><td>${esc(r.frame)}</td>` +
      `<td>${esc(r.tile)}</td><td>${esc(r.worker)}</td><td>${esc(r.device_class)}</td>` +
      `<td class="num">${esc(renderTime(r.render_micros))}</td><td class="num">${esc(renderTime(r.work_micros))}</td>` +
      `<td class="num">${esc(usd(r.charge))}</td></tr>`).join('')
    : '<tr class="empty"><td colspan="8">Nothing billed yet.</td></tr>';
  $('reversals-table').tBodies[0].innerHTML = invoice.reversals.length
    ? invoice.reversals.map((r) => `<tr data-task="${esc(r.task)}"><td>${esc(r.task)}</td><td>${esc(r.worker)}</td>` +
      `<td class="num">${esc(usd(r.amount))}</td><td>${esc(r.reason)}</td></tr>`).join('')
    : '<tr class="empty"><td colspan="4">No reversals.</td></tr>';
  $('invoice-total').textContent = usd(invoice.total);
}

// ---------------------------------------------------------------- live events (SSE)

// EventSource cannot send the token, so the stream is read with fetch(). It reconnects with
// backoff while the job runs, and stops for good when the page is left (the abort signal).
async function followEvents(v) {
  const { signal } = v.page;
  const status = (s) => { $('stream-status').textContent = s; };
  let delay = 1000;
  while (!signal.aborted) {
    let gotEvent = false;
    try {
      status('connecting…');
      const res = await api(`/api/jobs/${v.id}/events`, { signal, as: 'response' });
      status('live');
      v.live = true;
      await readSse(res.body, (event, data) => {
        gotEvent = true;
        onEvent(v, event, data);
      });
    } catch (e) {
      v.live = false;
      if (signal.aborted || e.status === 401) return;
      if (e instanceof ApiError && e.status < 500) { report(e); status('unavailable'); return; }
    }
    v.live = false;
    if (signal.aborted) return;
    if (v.job && v.job.state !== 'running') { status(`ended (${v.job.state})`); return; }
    if (gotEvent) delay = 1000; // the connection worked: start the backoff over
    status(`reconnecting in ${Math.round(delay / 1000)} s…`);
    await new Promise((r) => v.page.later(r, delay));
    delay = Math.min(delay * 2, 30000);
  }
}

// Minimal SSE parser: `event:` and `data:` fields, blank line ends an event, `:` lines are
// keep-alive comments. Each character is scanned once, so a big base64 tile that arrives in
// many chunks costs linear time.
async function readSse(body, onEvent) {
  // Aborting the fetch's signal also errors this reader, which ends the loop.
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  let event = '';
  let data = [];
  let from = 0; // where the search for the next newline resumes
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    let start = 0;
    let nl;
    while ((nl = buf.indexOf('\n', Math.max(start, from))) >= 0) {
      let line = buf.slice(start, nl);
      start = nl + 1;
      if (line.endsWith('\r')) line = line.slice(0, -1);
      if (line === '') {
        if (data.length) onEvent(event || 'message', data.join('\n'));
        event = '';
        data = [];
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let val = colon < 0 ? '' : line.slice(colon + 1);
      if (val.startsWith(' ')) val = val.slice(1);
      if (field === 'event') event = val;
      else if (field === 'data') data.push(val);
    }
    buf = buf.slice(start);
    from = buf.length;
  }
}

function onEvent(v, event, raw) {
  let data;
  try { data = JSON.parse(raw); } catch (_) { return; } // a broken event must not stop the stream
  if (event === 'job') {
    renderJob(v, data);
  } else if (event === 'tile') {
    drawTile(v, data);
  } else if (event === 'frame') {
    drawFinal(v, data.frame);
  }
}

// ---------------------------------------------------------------- job actions

async function cancelJob() {
  const v = jv;
  if (!v || !v.job || !confirm(`Cancel job ${v.id} (${v.job.scene_name})?`)) return;
  const btn = $('cancel-button');
  btn.disabled = true;
  try {
    await api(`/api/jobs/${v.id}/cancel`, { method: 'POST', signal: v.page.signal });
    clearError();
    renderJob(v, await api(`/api/jobs/${v.id}`, { signal: v.page.signal }));
  } catch (e) {
    report(e);
  } finally {
    btn.disabled = false;
  }
}

// Downloads need the token, so the file is fetched as a blob and offered through an object
// URL; the first click fetches, then clicks the link again to save it.
async function download(a) {
  const v = jv;
  const frame = a.dataset.frame;
  const fmt = a.dataset.format;
  a.classList.add('busy');
  try {
    const blob = await api(`/api/jobs/${v.id}/frames/${encodeURIComponent(frame)}.${fmt}`,
      { as: 'blob', signal: v.page.signal });
    const url = URL.createObjectURL(blob);
    v.page.urls.push(url);
    a.href = url;
    a.download = `job${v.id}-frame${frame}.${fmt}`;
    a.dataset.ready = 'true';
    a.click();
  } catch (e) {
    report(e);
  } finally {
    a.classList.remove('busy');
  }
}

// ---------------------------------------------------------------- workers page

const workerRows = new Map();
let workersSeq = 0; // a drain or readmit refreshes at once; an older poll answer must not undo it

function workerRowHtml(w) {
  const name = esc(w.name);
  const live = w.alive ? '<span class="alive">alive</span>' : '<span class="dead">dead</span>';
  const action = w.blocked
    ? '<button type="button" class="worker-action" data-action="readmit">Readmit</button>'
    : w.alive ? '<button type="button" class="worker-action" data-action="drain">Drain</button>' : '';
  return `<tr data-worker="${name}" data-alive="${w.alive ? 'true' : 'false'}"${w.alive ? '' : ' class="is-dead"'}>` +
    `<td class="col-name">${name}</td><td class="col-alive">${live}</td>` +
    `<td class="col-blocked">${esc(w.blocked || '')}</td>` +
    `<td>${esc(w.backend)}</td><td class="col-device">${esc(w.device)}</td><td>${esc(w.device_class)}</td>` +
    `<td class="num">${esc(w.threads)}</td><td class="num col-task">${esc(w.current_task ?? '—')}</td>` +
    `<td class="num">${esc(w.tasks_done)}</td><td class="num">${esc(w.checks_passed)}</td>` +
    `<td class="num${w.checks_failed ? ' bad' : ''}">${esc(w.checks_failed)}</td>` +
    // How often its results are checked (all of a new worker's), and the work it renders per
    // second, in seconds of the coordinator's CPU.
    `<td class="num">${esc(w.check_rate >= 1 ? 'all' : `1 in ${Math.round(1 / w.check_rate)}`)}</td>` +
    `<td class="num">${esc(w.throughput == null ? '—' : `${w.throughput.toFixed(2)}x`)}</td>` +
    `<td class="col-uptime">${esc(duration(w.last_seen - w.first_seen))}</td>` +
    `<td class="col-last-seen">${esc(when(w.last_seen))}</td><td>${action}</td></tr>`;
}

async function refreshWorkers(signal) {
  const seq = ++workersSeq;
  const workers = await api('/api/workers', { signal });
  if (seq !== workersSeq) return;
  workers.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  syncRows($('workers-table').tBodies[0], workerRows, workers, (w) => w.name, workerRowHtml);
  const alive = workers.filter((w) => w.alive).length;
  $('workers-count').textContent = `${alive} alive of ${workers.length}`;
}

function showWorkers() {
  const page = enterPage();
  showView('workers-view');
  poll(page, () => refreshWorkers(page.signal));
}

// Drains a worker, or readmits a blocked one, as the button says.
async function workerAction(btn) {
  const name = btn.closest('tr').dataset.worker; // the DOM decodes the escaped attribute
  const action = btn.dataset.action;
  const page = app.page;
  btn.disabled = true;
  try {
    await api(`/api/workers/${encodeURIComponent(name)}/${action}`, { method: 'POST', signal: page.signal });
    clearError();
    await refreshWorkers(page.signal);
  } catch (e) {
    btn.disabled = false;
    report(e);
  }
}

// ---------------------------------------------------------------- wiring

function debounce(fn, ms) {
  let t;
  return (...args) => { clearTimeout(t); t = setTimeout(() => fn(...args), ms); };
}

document.addEventListener('DOMContentLoaded', () => {
  $('login-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const token = $('token-input').value.trim();
    if (!token) return showError('Enter a token.');
    clearError();
    login(token);
  });
  $('logout-button').addEventListener('click', () => logout());
  $('error-banner').addEventListener('click', () => clearError());
  $('state-filter').addEventListener('change', refreshJobsNow);
  $('tenant-filter').addEventListener('input', debounce(refreshJobsNow, 300));
  $('cancel-button').addEventListener('click', cancelJob);
  // Delegated handlers: rows are rebuilt, so listeners live on the containers.
  $('workers-table').addEventListener('click', (e) => {
    const btn = e.target.closest('.worker-action');
    if (btn && !btn.disabled) workerAction(btn);
  });
  $('frame-list').addEventListener('click', (e) => {
    const a = e.target.closest('a.download-exr, a.download-png');
    if (!a || a.dataset.ready) return; // ready: let the browser save the object URL
    e.preventDefault();
    if (!a.classList.contains('busy')) download(a);
  });
  window.addEventListener('hashchange', route);

  if (app.token) login(app.token); else showLogin();
});
