// drive.mjs - drives runbookd's web page in Debian's headless Chromium
// (playwright-core, no downloaded browser).  Run by
// test/integration/test_web_browser.py, which starts runbookd, posts the
// alerts and checks the store afterwards; this script only uses the page.
//
// Environment:
//   RB_URL        http://127.0.0.1:PORT
//   RB_OUT        directory for screenshots
//   RB_INCIDENT   id of the incident to work on, RB_ALERTNAME its alertname
//   RB_HOSTILE    alertname of the incident whose labels hold markup
//   RB_READER, RB_ONCALL   API tokens with roles read and respond
// Prints "ok   - ..." / "FAIL - ..." lines and, last, one JSON line
// {"screenshots": [...], "failures": N}.  Exit 0 when every check passed,
// 1 otherwise, 77 when Chromium cannot be launched.

import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const URL0 = process.env.RB_URL;
const OUT = process.env.RB_OUT;
const ID = process.env.RB_INCIDENT;
const ALERTNAME = process.env.RB_ALERTNAME;
const HOSTILE = process.env.RB_HOSTILE;
const READER = process.env.RB_READER;
const ONCALL = process.env.RB_ONCALL;
const EXE = process.env.CHROMIUM || '/usr/bin/chromium';

let failures = 0;
const shots = [];
function check(cond, what, detail) {
  if (cond) console.log('ok   - ' + what);
  else {
    failures++;
    console.log('FAIL - ' + what + (detail !== undefined ? ' :: ' + String(detail).slice(0, 600) : ''));
  }
  return !!cond;
}

const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'rb-chromium-'));
let ctx;
try {
  ctx = await chromium.launchPersistentContext(profile, {
    executablePath: EXE,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-dev-shm-usage'],
    viewport: { width: 1280, height: 900 },
    timeout: 30000,
  });
} catch (e) {
  console.log('SKIP: cannot launch ' + EXE + ': ' + e.message.split('\n')[0]);
  fs.rmSync(profile, { recursive: true, force: true });
  process.exit(77);
}

const page = ctx.pages()[0] || await ctx.newPage();
page.setDefaultTimeout(15000);
const consoleProblems = [];
page.on('console', (m) => {
  // 401/403 answers are expected here and logged by Chromium as failed loads.
  if (m.type() === 'error' && !/status of 40[13]/.test(m.text())) consoleProblems.push(m.text());
});
page.on('pageerror', (e) => consoleProblems.push('pageerror: ' + e.message));
const requests = [];
page.on('request', (r) => requests.push(r.method() + ' ' + r.url()));

const mainText = () => page.locator('main').innerText();
const errorText = () => page.locator('#error').innerText();
const statusText = () => page.locator('#status').innerText();

async function shot(name, mustContain) {
  const file = path.join(OUT, name + '.png');
  await page.screenshot({ path: file, fullPage: true });
  const text = await page.evaluate(() => document.body.innerText);
  for (const want of mustContain) check(text.includes(want), `${name}.png: the page shows ${JSON.stringify(want)}`, text.slice(0, 300));
  shots.push({ name, file, text: text.slice(0, 2000) });
}

async function setToken(token) {
  if (!(await page.locator('#auth').evaluate((d) => d.open))) await page.locator('#auth summary').click();
  await page.locator('#auth-token').fill(token);
  await page.locator('#auth-form button[type=submit]').click();
}

async function apiState(token) {
  return page.evaluate(async ([id, tok]) => {
    const r = await fetch('/api/v1/incidents/' + id, { headers: { Authorization: 'Bearer ' + tok } });
    return (await r.json()).state;
  }, [ID, token]);
}

try {
  // ---------------------------------------------------------- no token
  await page.goto(URL0 + '/', { waitUntil: 'load' });
  await page.locator('#error').filter({ hasText: '401' }).waitFor();
  check((await errorText()).includes('Not authorized (401)'), 'without a token the list shows a clear 401 message', await errorText());
  check(await page.locator('#auth').evaluate((d) => d.open), 'the token form opens after a 401');
  await shot('01-unauthorized', ['Not authorized (401)', 'API token']);

  // ---------------------------------------------------------- keyboard
  await page.keyboard.press('Tab');
  check(await page.evaluate(() => document.activeElement.textContent.trim()) === 'Skip to content',
    'the first Tab reaches the skip link');
  await page.keyboard.press('Enter');
  check(await page.evaluate(() => document.activeElement.id === 'main' && !location.hash.includes('main')),
    'the skip link moves the focus to the content and leaves the route alone');

  // ---------------------------------------------------------- list (read token)
  await setToken(READER);
  await page.locator('table.incidents tbody tr').first().waitFor();
  check(await page.evaluate(() => sessionStorage.getItem('runbookd.token')) === READER, 'the token is kept in sessionStorage');
  check(await page.evaluate(() => localStorage.getItem('runbookd.token')) === null, 'the token is not in localStorage');
  const rows = await page.locator('table.incidents tbody tr').count();
  check(rows >= 3, 'the open incidents are listed', rows);
  const listText = await mainText();
  check(listText.includes(ALERTNAME) && listText.includes('CRITICAL'), 'the list shows alertname and severity', listText.slice(0, 400));
  check(/\d+(s|m \d+s)/.test(listText), 'the list shows ages');
  await shot('02-incidents', ['Incidents', ALERTNAME, 'open']);

  // filters
  await page.locator('select[name=severity]').selectOption('low');
  await page.waitForFunction(() => location.hash.includes('severity=low'));
  await page.locator('table.incidents caption, p.empty').first().waitFor();
  await page.waitForFunction(() => !document.querySelector('#incident-list[aria-busy=true]'));
  const lowText = await mainText();
  check(lowText.includes('DiskAlmostFull') && !lowText.includes(ALERTNAME), 'the severity filter keeps only low incidents', lowText.slice(0, 400));
  await page.locator('select[name=severity]').selectOption('');
  await page.waitForFunction(() => !location.hash.includes('severity'));

  // markup in labels and annotations is text
  await page.locator('table.incidents a', { hasText: HOSTILE }).click();
  await page.locator('h1', { hasText: HOSTILE }).waitFor();
  const hostile = await page.evaluate(() => ({
    imgs: document.querySelectorAll('main img').length,
    bold: document.querySelectorAll('main b').length,
    text: document.querySelector('main').innerText,
    pwned: window.__pwned === true,
  }));
  check(hostile.imgs === 0 && hostile.bold === 0 && !hostile.pwned, 'markup from labels is not interpreted', JSON.stringify(hostile).slice(0, 300));
  check(hostile.text.includes('<img src=x onerror=window.__pwned=true>') && hostile.text.includes('<b>bold</b>'),
    'markup from labels is shown as text');
  check(/Fired again/.test(hostile.text), 'a refired incident shows when it fired again', hostile.text.slice(0, 600));

  // ---------------------------------------------------------- incident page
  await page.goto(URL0 + '/#/incidents', { waitUntil: 'load' });
  await page.locator('table.incidents a', { hasText: ALERTNAME }).click();
  // The view first shows "Incident N" while it loads, and "Incident N:
  // alertname" once the incident (with its timeline) is there.
  await page.locator('h1', { hasText: 'Incident ' + ID + ': ' }).waitFor();
  check(await page.locator('ol.timeline li[data-kind=received]').count() === 1, 'the timeline shows the received event');
  check(!/Fired again/.test(await mainText()), 'an incident that did not refire shows no second firing');
  check(await page.locator('svg.chart rect.fire').count() === 1, 'the chart shows the firing span');
  check(await page.locator('svg.chart circle, svg.chart path').count() >= 1, 'the chart marks events');
  check(await page.locator('a', { hasText: 'HTML' }).getAttribute('href') === `/api/v1/incidents/${ID}/report?format=html`,
    'the page links to the HTML report');
  // the report (built by runbookd's report endpoint): the link, and the download with the token
  const rep = await page.request.get(URL0 + `/api/v1/incidents/${ID}/report?format=html`,
    { headers: { Authorization: 'Bearer ' + READER } });
  check(rep.status() === 200 && /text\/html/.test(rep.headers()['content-type'] || ''), 'the report link answers HTML', rep.status());
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.locator('button', { hasText: 'Download HTML report' }).click(),
  ]);
  const saved = path.join(OUT, 'report-download.html');
  await download.saveAs(saved);
  const reportHtml = fs.readFileSync(saved, 'utf8');
  check(download.suggestedFilename() === `incident-${ID}-report.html` && /<svg/i.test(reportHtml) && reportHtml.includes(ALERTNAME),
    'the download button saves the HTML report (sent with the token)', download.suggestedFilename() + ' ' + reportHtml.length);
  await shot('03-incident', ['Incident ' + ID, ALERTNAME, 'Timeline', 'received', 'Chart', 'Acknowledge']);

  // ---------------------------------------------------------- the ack link (GET acknowledges nothing)
  await page.goto(URL0 + `/#/incidents/${ID}/ack`, { waitUntil: 'load' });
  await page.locator('button', { hasText: 'Confirm acknowledgement' }).waitFor();
  check(await apiState(READER) === 'open', 'opening the ack link acknowledges nothing');
  check(!requests.some((r) => r.startsWith('POST')), 'no POST was sent by loading pages', requests.filter((r) => r.startsWith('POST')).join(', '));
  check(await page.evaluate(() => document.activeElement && document.activeElement.textContent) === 'Confirm acknowledgement',
    'the confirm button has the focus');
  await shot('04-ack-confirm', ['Acknowledge incident ' + ID + '?', 'Confirm acknowledgement']);

  // a read token cannot: 403 shown clearly
  await page.locator('button', { hasText: 'Confirm acknowledgement' }).click();
  await page.locator('#error').filter({ hasText: '403' }).waitFor();
  check((await errorText()).includes('Forbidden (403)') && (await errorText()).includes('needs role respond'),
    'a read token gets a clear 403 message', await errorText());
  await shot('05-forbidden', ['Forbidden (403)']);

  // a respond token can (keyboard: Enter on the focused button)
  await setToken(ONCALL);
  await page.locator('button', { hasText: 'Confirm acknowledgement' }).waitFor();
  await page.locator('textarea[name=comment]').first().fill('on it from the browser');
  await page.locator('button', { hasText: 'Confirm acknowledgement' }).focus();
  await page.keyboard.press('Enter');
  await page.locator('#status').filter({ hasText: 'acknowledged' }).waitFor();
  await page.waitForFunction(() => location.hash.endsWith('/' + 'ack') === false);
  await page.locator('ol.timeline li[data-kind=acknowledged]').waitFor();
  check(await apiState(ONCALL) === 'acked', 'the confirm button acknowledged the incident');
  check((await mainText()).includes('by oncall'), 'the timeline names the token as the actor');
  await shot('06-acked', ['acknowledged', 'oncall', 'Unacknowledge']);

  // ---------------------------------------------------------- comment
  const hostileComment = 'checked the <b>pods</b> & "logs"';
  await page.locator('form.actions textarea[name=comment]').fill(hostileComment);
  await page.locator('form.actions button', { hasText: 'Add comment' }).click();
  await page.locator('ol.timeline li[data-kind=commented]').waitFor();
  const commented = await page.locator('ol.timeline li[data-kind=commented]').innerText();
  check(commented.includes(hostileComment), 'the comment is on the timeline, as text', commented);
  check(await page.locator('ol.timeline b').count() === 0, 'the comment\'s markup is not interpreted');

  // ---------------------------------------------------------- silence
  const silForm = page.locator('form.silence');
  await silForm.locator('select[name=duration]').selectOption('1h');
  await silForm.locator('input[name=createdBy]').fill('oncall');
  await silForm.locator('textarea[name=comment]').fill('maintenance window from the browser test');
  await silForm.locator('button', { hasText: 'Create silence' }).click();
  await page.locator('#status').filter({ hasText: 'Silence' }).waitFor();
  check(/Silence \S+ created/.test(await statusText()), 'the silence form creates a silence', await statusText());
  await page.locator('nav a', { hasText: 'Silences' }).click();
  await page.locator('table.silences tbody tr').first().waitFor();
  const silText = await mainText();
  check(silText.includes(`alertname="${ALERTNAME}"`) && silText.includes('maintenance window from the browser test'),
    'the silence is listed with its matchers and comment', silText.slice(0, 500));
  check(/active/i.test(silText), 'the silence is active', silText.slice(0, 300));
  await shot('07-silences', ['Silences', 'maintenance window from the browser test', 'Expire']);
  await page.locator('table.silences button', { hasText: 'Expire' }).first().click();
  await page.locator('#status').filter({ hasText: 'expired' }).waitFor();
  await page.locator('#show-expired').check();
  await page.waitForFunction(() => location.hash.includes('expired=1'));
  await page.locator('table.silences tbody tr').first().waitFor();
  check(/expired/i.test(await page.locator('table.silences').innerText()), 'the expired silence shows as expired');

  // ---------------------------------------------------------- resolve
  await page.goto(URL0 + `/#/incidents/${ID}`, { waitUntil: 'load' });
  await page.locator('form.actions button', { hasText: 'Resolve' }).click();
  await page.locator('ol.timeline li[data-kind=resolved]').waitFor();
  check(await apiState(ONCALL) === 'resolved', 'the resolve button resolved the incident');
  check(await page.locator('svg.chart .mark-line.resolved').count() === 1 && await page.locator('svg.chart .mark-line.ack').count() === 1,
    'the chart marks acknowledgement and resolution');
  await shot('08-resolved', ['resolved', 'by oncall', 'checked the <b>pods</b>']);

  // the ack link of a resolved incident says so, with no button
  await page.goto(URL0 + `/#/incidents/${ID}/ack`, { waitUntil: 'load' });
  await page.locator('h2', { hasText: 'Already resolved' }).waitFor();
  check(await page.locator('button', { hasText: 'Confirm acknowledgement' }).count() === 0, 'no confirm button on a resolved incident');

  // print: no forms, the timeline and chart remain
  await page.goto(URL0 + `/#/incidents/${ID}`, { waitUntil: 'load' });
  await page.locator('ol.timeline').waitFor();
  await page.emulateMedia({ media: 'print' });
  check(!(await page.locator('form.actions').isVisible()) && await page.locator('ol.timeline').isVisible()
    && await page.locator('svg.chart').isVisible(), 'printed: forms hidden, chart and timeline shown');
  await shot('09-print', ['Timeline', 'resolved']);
  await page.emulateMedia({ media: 'screen' });

  // the list no longer holds the resolved incident
  await page.goto(URL0 + '/#/incidents', { waitUntil: 'load' });
  await page.locator('table.incidents tbody tr').first().waitFor();
  check(!(await mainText()).includes(ALERTNAME), 'the resolved incident left the open list');

  // statistics (GET /api/v1/stats): its figures, or a plain note where the endpoint is missing
  await page.locator('nav a', { hasText: 'Statistics' }).click();
  await page.locator('h1', { hasText: 'Statistics' }).waitFor();
  await page.waitForFunction(() => !document.querySelector('main [aria-busy=true]'));
  const statsText = await mainText();
  check(/incidents|no statistics endpoint/.test(statsText), 'the statistics view shows figures or says there are none',
    statsText.slice(0, 300));

  // ---------------------------------------------------------- screenshots have content
  const analysis = await ctx.newPage();
  for (const s of shots) {
    const b64 = fs.readFileSync(s.file).toString('base64');
    const st = await analysis.evaluate(async (data) => {
      const img = new Image();
      img.src = 'data:image/png;base64,' + data;
      await img.decode();
      const c = document.createElement('canvas');
      c.width = img.naturalWidth; c.height = img.naturalHeight;
      const g = c.getContext('2d');
      g.drawImage(img, 0, 0);
      const px = g.getImageData(0, 0, c.width, c.height).data;
      const colors = new Set();
      let nonWhite = 0, n = 0;
      for (let i = 0; i < px.length; i += 4 * 7) {
        n++;
        if (px[i] < 245 || px[i + 1] < 245 || px[i + 2] < 245) nonWhite++;
        if (colors.size < 5000) colors.add((px[i] << 16) | (px[i + 1] << 8) | px[i + 2]);
      }
      return { w: c.width, h: c.height, colors: colors.size, ink: nonWhite / n };
    }, b64);
    s.stats = st;
    check(st.w >= 1000 && st.h >= 300 && st.colors >= 8 && st.ink > 0.01 && st.ink < 0.9,
      `${s.name}.png is not blank (${st.w}x${st.h}, ${st.colors} colours, ${(st.ink * 100).toFixed(1)}% ink)`);
  }
  await analysis.close();

  check(consoleProblems.length === 0, 'no script errors or CSP violations in the console', consoleProblems.join(' | '));
} catch (e) {
  check(false, 'browser session', e.stack || e.message);
  try { await page.screenshot({ path: path.join(OUT, 'failure.png'), fullPage: true }); } catch (e2) { /* ignore */ }
  if (consoleProblems.length) console.log('# console: ' + consoleProblems.join(' | '));
}

await ctx.close();
fs.rmSync(profile, { recursive: true, force: true });
console.log(JSON.stringify({ screenshots: shots.map((s) => ({ name: s.name, file: s.file, stats: s.stats })), failures }));
process.exit(failures ? 1 : 0);
