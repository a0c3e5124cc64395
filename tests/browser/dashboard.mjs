// Drives Debian's Chromium (headless) through the dashboard of a running coordinator.
// tests/dashboard.rs starts the farm and runs this with its addresses and tokens; the script
// exits non-zero, saying why, when a check fails.
//
//   node dashboard.mjs live   a job watched as it renders, the workers page, cancelling, and
//                             another tenant's view; screenshots of each page
//   node dashboard.mjs many   1,000 jobs and 200 workers listed: times to show and refresh them

import { spawn } from 'node:child_process';
import { readFile, mkdir } from 'node:fs/promises';
import { chromium } from 'playwright-core';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const URL_ = env('TESSERA_URL');
const ADMIN = env('ADMIN_TOKEN');
const SCREENSHOTS = process.env.SCREENSHOTS;

function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
}

async function api(token, method, path, body) {
  const response = await fetch(URL_ + path, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(typeof body === 'string' ? { 'content-type': 'application/json' } : {}),
    },
    body,
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

async function submit(token, query) {
  const scene = await readFile(env('SCENE'));
  return (await api(token, 'POST', `/api/jobs?scene_name=cornell-box.gltf&${query}`, scene)).id;
}

async function waitFor(what, predicate, seconds = 60) {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${seconds} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function browser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    // Without the background-networking flags Chromium keeps dialling out of a closed network.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

async function login(page, token) {
  await page.goto(URL_ + '/');
  await page.fill('#token-input', token);
  await page.click('#login-button');
  await page.waitForSelector('#who-role:not(:empty)');
}

async function logout(page) {
  await page.click('#logout-button');
  await page.waitForSelector('#token-input', { state: 'visible' });
}

async function shot(page, name) {
  if (!SCREENSHOTS) return;
  await mkdir(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: `${SCREENSHOTS}/${name}.png`, fullPage: true });
}

// Fails the run on an uncaught error, or on anything the server's Content-Security-Policy
// blocked (which the page itself would not notice).
function watch(page) {
  page.on('pageerror', (e) => { throw new Error(`page error: ${e.message}`); });
  page.on('console', (m) => {
    if (m.type() === 'error' && m.text().includes('Content Security Policy')) {
      throw new Error(`blocked by the page's policy: ${m.text()}`);
    }
  });
}

async function live() {
  const tenantA = env('TENANT_A_TOKEN');
  const tenantB = env('TENANT_B_TOKEN');
  const b = await browser();
  const page = await b.newPage({ viewport: { width: 1280, height: 900 } });
  watch(page);
  // The page asks before cancelling or draining; the operator says yes.
  page.on('dialog', (d) => d.accept());
  let worker;
  try {
    // Nothing without a token: the page asks for one and shows no job.
    await page.goto(URL_ + '/');
    await page.waitForSelector('#token-input', { state: 'visible' });
    check(await page.locator('#jobs-table tbody tr').count() === 0, 'jobs shown before login');

    // The job waits for its worker, so the page is watching before the first tile arrives.
    const job = await submit(tenantA, 'width=192&height=192&spp=48&tile=32&frames=1-2');
    await login(page, tenantA);
    await page.waitForSelector(`#jobs-table tr[data-job="${job}"]`);
    // The quote made at submission shows beside the cost, in the list and on the job's page.
    const quoted = (await api(tenantA, 'GET', `/api/jobs/${job}`)).quote;
    check(quoted && quoted.samples === 192 * 192 * 48 * 2, `quote ${JSON.stringify(quoted)}`);
    const dollars = `$${Math.floor(quoted.cost / 1e6)}.${String(quoted.cost % 1e6).padStart(6, '0')}`;
    const listed = await page.textContent(`#jobs-table tr[data-job="${job}"] td.col-quote`);
    check(listed === dollars, `the jobs list shows the quote as '${listed}', not ${dollars}`);
    await page.goto(`${URL_}/#/jobs/${job}`);
    await page.waitForSelector('canvas.frame-canvas[data-frame="1"]');
    const onPage = await page.textContent('#job-quote');
    check(onPage.startsWith(dollars), `the job page shows the quote as '${onPage}'`);
    const command = JSON.parse(env('WORKER_COMMAND'));
    worker = spawn(command[0], command.slice(1), { stdio: 'ignore' });

    // A tile appears in the live image while its frame is still being rendered.
    await waitFor('a tile drawn', async () =>
      Number(await page.textContent('#tiles-drawn')) >= 1);
    const view = await api(tenantA, 'GET', `/api/jobs/${job}`);
    check(!view.frame_progress[0].written, 'frame 1 was already written when the first tile showed');
    const lit = await page.evaluate(() => {
      const canvas = document.querySelector('canvas.frame-canvas[data-frame="1"]');
      const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
      let n = 0;
      for (let i = 0; i < data.length; i += 4) if (data[i + 3] > 0 && data[i] + data[i + 1] + data[i + 2] > 0) n++;
      return n;
    });
    check(lit > 0, 'the live image has no lit pixel after a tile was drawn');
    // A fuller picture for the screenshot, if the frame is not done by then.
    await waitFor('more tiles', async () =>
      Number(await page.textContent('#tiles-drawn')) >= 20, 60);
    await shot(page, 'job-in-progress');

    // The job completes; its frames can be downloaded, and the invoice has a row per task.
    await waitFor('the job done', async () =>
      (await page.textContent('#job-state')).includes('done'), 120);
    await page.waitForSelector('a.download-png');
    const invoiceRows = await waitFor('the invoice', async () => {
      const n = await page.locator('#invoice-table tbody tr').count();
      return n === 72 ? n : 0;
    });
    check(invoiceRows === 72, `invoice rows ${invoiceRows}`);

    // Cancelling: a second job, which the drained worker will not take.
    await logout(page);
    await login(page, ADMIN);
    await page.goto(`${URL_}/#/workers`);
    const row = page.locator('#workers-table tr[data-worker="w1"]');
    await row.waitFor();
    check((await row.getAttribute('data-alive')) === 'true', 'worker w1 not shown alive');
    await shot(page, 'workers');
    await row.locator('.worker-action[data-action="drain"]').click();
    await waitFor('w1 drained', async () => {
      const workers = await api(ADMIN, 'GET', '/api/workers');
      return workers.find((w) => w.name === 'w1')?.blocked;
    });
    await logout(page);
    const second = await submit(tenantA, 'width=64&height=64&spp=1');
    await login(page, tenantA);
    await page.goto(`${URL_}/#/jobs`);
    await page.waitForSelector(`#jobs-table tr[data-job="${second}"]`);
    await shot(page, 'jobs');
    await page.goto(`${URL_}/#/jobs/${second}`);
    await page.click('#cancel-button');
    await waitFor('the second job cancelled', async () =>
      (await api(tenantA, 'GET', `/api/jobs/${second}`)).state === 'cancelled');
    await page.waitForSelector('#job-state:has-text("cancelled")');

    // The operator lets the drained worker back.
    await logout(page);
    await login(page, ADMIN);
    await page.goto(`${URL_}/#/workers`);
    await row.locator('.worker-action[data-action="readmit"]').click();
    await waitFor('w1 readmitted', async () => {
      const workers = await api(ADMIN, 'GET', '/api/workers');
      return workers.find((w) => w.name === 'w1')?.blocked === null;
    });
    await row.locator('.worker-action[data-action="readmit"]').waitFor({ state: 'detached' });

    // Another tenant sees neither job, in the list or by its address.
    await logout(page);
    await login(page, tenantB);
    await page.goto(`${URL_}/#/jobs`);
    await page.waitForSelector('#jobs-empty', { state: 'visible' });
    check(await page.locator('#jobs-table tbody tr').count() === 0, 'tenant b sees jobs');
    await page.goto(`${URL_}/#/jobs/${job}`);
    await page.waitForSelector('#error-banner', { state: 'visible' });
    check((await page.locator('canvas.frame-canvas').count()) === 0, 'tenant b sees a frame');
    check(!(await page.isVisible('#nav-workers')), 'tenant b sees the workers link');
    console.log(`live: ok (tiles drawn before frame 1 was written, ${invoiceRows} invoice rows)`);
  } finally {
    worker?.kill();
    await b.close();
  }
}

async function many() {
  const scene = await readFile(env('SCENE'));
  for (let i = 0; i < 1000; i++) {
    await api(ADMIN, 'POST', `/api/jobs?scene_name=scene-${i}.gltf&tenant=t${i % 7}&width=8&height=8&spp=1`, scene);
  }
  for (let i = 0; i < 200; i++) {
    const { token } = await api(ADMIN, 'POST', '/api/tokens', JSON.stringify({
      role: 'worker', name: `node-${String(i).padStart(3, '0')}`, tenant: null,
      device_class: 'cpu', threads: 4,
    }));
    await fetch(URL_ + '/api/workers', {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'x', device: { backend: 'cpu', name: 'test CPU', class: 'cpu', threads: 4 } }),
    }).then((r) => check(r.status === 204, `announce: ${r.status}`));
  }
  const b = await browser();
  const page = await b.newPage({ viewport: { width: 1280, height: 900 } });
  watch(page);
  try {
    let started = Date.now();
    await login(page, ADMIN);
    await waitFor('1,000 job rows', async () =>
      (await page.locator('#jobs-table tbody tr').count()) === 1000);
    const jobsShown = Date.now() - started;

    // The main thread stays free across refreshes: the longest gap between timer ticks.
    const longestGap = await page.evaluate(() => new Promise((resolve) => {
      let last = performance.now();
      let worst = 0;
      const timer = setInterval(() => {
        const now = performance.now();
        worst = Math.max(worst, now - last);
        last = now;
      }, 10);
      setTimeout(() => { clearInterval(timer); resolve(worst); }, 6000);
    }));

    started = Date.now();
    await page.selectOption('#state-filter', 'cancelled');
    await page.waitForSelector('#jobs-empty', { state: 'visible' });
    await page.selectOption('#state-filter', '');
    await waitFor('1,000 rows again', async () =>
      (await page.locator('#jobs-table tbody tr').count()) === 1000);
    const filtered = Date.now() - started;

    started = Date.now();
    await page.goto(`${URL_}/#/workers`);
    await waitFor('200 worker rows', async () =>
      (await page.locator('#workers-table tbody tr').count()) === 200);
    const workersShown = Date.now() - started;
    console.log(`many: jobs ${jobsShown} ms, longest main-thread gap ${longestGap.toFixed(0)} ms, ` +
      `filter round trip ${filtered} ms, workers ${workersShown} ms`);
    check(jobsShown < 5000, `1,000 jobs took ${jobsShown} ms to show`);
    check(longestGap < 250, `the page froze for ${longestGap.toFixed(0)} ms during refreshes`);
    check(filtered < 5000, `filtering took ${filtered} ms`);
    check(workersShown < 3000, `200 workers took ${workersShown} ms to show`);

    // A large frame is previewed scaled down: a hundred 8192x8192 frames took 26 GB of canvases.
    const big = await api(ADMIN, 'POST', `/api/jobs?scene_name=big.gltf&tenant=t0&width=4096&height=2048&spp=1&tile=256`, scene);
    await page.goto(`${URL_}/#/jobs/${big.id}`);
    await page.waitForSelector('canvas.frame-canvas[data-frame="1"]');
    const side = await page.evaluate(() => {
      const canvas = document.querySelector('canvas.frame-canvas[data-frame="1"]');
      return [canvas.width, canvas.height];
    });
    check(side[0] === 1024 && side[1] === 512, `a 4096x2048 frame's preview is ${side}`);
  } finally {
    await b.close();
  }
}

const scenario = process.argv[2];
const run = { live, many }[scenario];
if (!run) {
  console.error('usage: node dashboard.mjs live|many');
  process.exit(2);
}
run().catch((e) => {
  console.error(e.stack || String(e));
  process.exit(1);
});
