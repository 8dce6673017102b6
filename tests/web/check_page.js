// Opens a report page in headless Chromium through the DevTools protocol (over a pipe; no npm
// packages), waits until the page has drawn (window.whatifCheck.done), and prints one JSON line:
// the page's own record of what it drew, every console error and exception Chromium saw, and the
// load time. Saves a screenshot of the page, and of each SELECTOR's element at half scale.
// With ACTION=<expression>, evaluates it (awaiting its promise) after the page has drawn and before
// the screenshots, and prints its value as "action".
// Usage: node check_page.js CHROMIUM URL SCREENSHOT.png TIMEOUT_S [SELECTOR=PNG ...] [ACTION=<js>]
'use strict';
const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const [chromium, url, screenshot, timeoutArg, ...rest] = process.argv.slice(2);
const action = (rest.find((a) => a.startsWith('ACTION=')) || '').slice(7);
const clips = rest.filter((a) => !a.startsWith('ACTION='));
const timeout = 1000 * Number(timeoutArg || 60);
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'whatif-chromium-'));
const browser = spawn(chromium, [
  '--headless=new', '--remote-debugging-pipe', `--user-data-dir=${profile}`, '--no-sandbox',
  '--no-first-run', '--no-default-browser-check', '--disable-extensions', '--disable-dev-shm-usage',
  '--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--ignore-gpu-blocklist',
  '--window-size=1280,2400', 'about:blank',
], { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
let stderr = '';
browser.stderr.on('data', (d) => { stderr += d; });
const send = browser.stdio[3], receive = browser.stdio[4];

let nextId = 1, buffer = '';
const pending = new Map(), listeners = [];
receive.on('data', (chunk) => {
  buffer += chunk;
  let end;
  while ((end = buffer.indexOf('\0')) >= 0) {
    const message = JSON.parse(buffer.slice(0, end));
    buffer = buffer.slice(end + 1);
    if (message.id && pending.has(message.id)) {
      const { resolve, reject } = pending.get(message.id);
      pending.delete(message.id);
      if (message.error) reject(new Error(JSON.stringify(message.error)));
      else resolve(message.result);
    } else {
      for (const l of listeners) l(message);
    }
  }
});
function command(method, params = {}, sessionId) {
  const id = nextId++;
  send.write(JSON.stringify({ id, method, params, sessionId }) + '\0');
  return new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const started = Date.now();
  const { targetId } = await command('Target.createTarget', { url: 'about:blank' });
  const { sessionId } = await command('Target.attachToTarget', { targetId, flatten: true });
  const errors = [];
  listeners.push((m) => {
    if (m.sessionId !== sessionId) return;
    if (m.method === 'Runtime.consoleAPICalled' && (m.params.type === 'error' || m.params.type === 'assert'))
      errors.push('console.error: ' + m.params.args.map((a) => a.value ?? a.description).join(' '));
    if (m.method === 'Runtime.exceptionThrown')
      errors.push('exception: ' + (m.params.exceptionDetails.exception?.description || m.params.exceptionDetails.text));
    if (m.method === 'Log.entryAdded' && m.params.entry.level === 'error')
      errors.push(`log: ${m.params.entry.text} ${m.params.entry.url || ''}`);
  });
  await command('Runtime.enable', {}, sessionId);
  await command('Log.enable', {}, sessionId);
  await command('Page.enable', {}, sessionId);
  await command('Emulation.setDeviceMetricsOverride', { width: 1280, height: 2400, deviceScaleFactor: 1, mobile: false }, sessionId);
  const loadStart = Date.now();
  await command('Page.navigate', { url }, sessionId);
  let check = null;
  while (Date.now() - loadStart < timeout) {
    const r = await command('Runtime.evaluate', {
      expression: 'window.whatifCheck && window.whatifCheck.done ? JSON.stringify(window.whatifCheck) : ""',
      returnByValue: true }, sessionId);
    if (r.result && r.result.value) { check = JSON.parse(r.result.value); break; }
    await sleep(200);
  }
  const drawSeconds = (Date.now() - loadStart) / 1000;
  let acted = null;
  if (action) {
    const r = await command('Runtime.evaluate', { expression: action, awaitPromise: true, returnByValue: true }, sessionId);
    acted = r.exceptionDetails ? { exception: r.exceptionDetails.exception?.description || r.exceptionDetails.text } : r.result.value;
  }
  const shot = await command('Page.captureScreenshot', { format: 'png', captureBeyondViewport: true }, sessionId);
  fs.writeFileSync(screenshot, Buffer.from(shot.data, 'base64'));
  for (const clip of clips) {
    const [selector, file] = clip.split('=');
    const box = await command('Runtime.evaluate', { returnByValue: true, expression:
      `(() => { const r = document.querySelector(${JSON.stringify(selector)})?.getBoundingClientRect();
                return r ? { x: r.x + scrollX, y: r.y + scrollY, width: r.width, height: r.height } : null; })()` }, sessionId);
    if (!box.result.value || !(box.result.value.height > 0)) continue;
    const part = await command('Page.captureScreenshot', { format: 'png', captureBeyondViewport: true,
                                                           clip: Object.assign(box.result.value, { scale: 0.5 }) }, sessionId);
    fs.writeFileSync(file, Buffer.from(part.data, 'base64'));
  }
  console.log(JSON.stringify({ check, errors, action: acted, draw_seconds: drawSeconds, total_seconds: (Date.now() - started) / 1000 }));
}

const timer = setTimeout(() => { console.log(JSON.stringify({ check: null, errors: ['timed out'], stderr: stderr.slice(-2000) })); finish(3); }, timeout + 20000);
function finish(code) {
  clearTimeout(timer);
  browser.once('exit', () => {
    try { fs.rmSync(profile, { recursive: true, force: true }); } catch (e) { /* Chromium's helpers may still write */ }
    process.exit(code);
  });
  browser.kill('SIGKILL');
}
main().then(() => finish(0), (e) => { console.log(JSON.stringify({ check: null, errors: [String(e)], stderr: stderr.slice(-2000) })); finish(2); });
