// The HTML report of a whatif run, drawn from the JSON `whatif report --html` embeds in the page:
// the metric table, Vega-Lite plots and Niivue views of the stored samples. The libraries are the
// vendored copies in report_files/. What was drawn is recorded in window.whatifCheck (errors, marks
// per plot, pixel statistics of the viewers) so a headless browser can check the page.
'use strict';

const whatifCheck = (window.whatifCheck = { errors: [], views: [], viewers: [], overlay: null, done: false });
window.addEventListener('error', (e) => whatifCheck.errors.push(String(e.message || (e.target && e.target.src) || e.type)), true);
window.addEventListener('unhandledrejection', (e) => whatifCheck.errors.push(String(e.reason)));

// Non-finite numbers travel as the strings "inf", "-inf", "nan".
function numeric(v) {
  if (typeof v !== 'string') return v;
  return v === 'inf' ? Infinity : v === '-inf' ? -Infinity : NaN;
}

function fmt(v) {
  v = numeric(v);
  if (Number.isNaN(v)) return 'nan';
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
  return String(Number(v.toPrecision(4)));
}

// el('p', {class: 'x'}, 'text', child, ...)
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c);
  return node;
}

function cell(arm, key) {
  if (!(key in arm)) return '-';
  return typeof arm[key] === 'string' ? arm[key] : JSON.stringify(arm[key]);
}

// The parameters whose values differ between arms: the table's columns and the plots' axes.
function differingKeys(arms) {
  const keys = [...new Set(arms.flatMap((a) => Object.keys(a.arm)))].sort();
  return keys.filter((k) => new Set(arms.map((a) => cell(a.arm, k))).size > 1);
}

function metricNames(arms) {
  return [...new Set(arms.flatMap((a) => Object.keys(a.metrics)))].sort();
}

function resultsTable(arms, keys, metrics) {
  const head = el('tr', {}, keys.map((k) => el('th', {}, k)), metrics.map((m) => el('th', {}, m)), el('th', {}, 'n'));
  const rows = arms.map((a) =>
    el('tr', {},
      keys.map((k) => el('td', {}, cell(a.arm, k))),
      metrics.map((m) => {
        const v = a.metrics[m];
        if (!v) return el('td', {}, '-');
        // Each seed's value (a / b) where the report sends them (below three seeds, as report.md);
        // a non-finite mean has no spread to show (the PSNR of identical twins is inf).
        if (v[2]) return el('td', { class: 'num' }, v[2].map(fmt).join(' / '));
        return el('td', { class: 'num' }, Number.isFinite(numeric(v[0])) ? `${fmt(v[0])} ± ${fmt(v[1])}` : fmt(v[0]));
      }),
      el('td', { class: 'num' }, String(a.seeds))));
  return el('table', { class: 'results' }, el('thead', {}, head), el('tbody', {}, rows));
}

// Data marks drawn in a Vega view (axes, legends and titles are not counted).
function dataMarks(node) {
  let n = 0;
  for (const item of (node && node.items) || []) {
    if (node.marktype !== 'group' && node.role === 'mark') n += 1;
    if (item.items) for (const child of item.items) n += dataMarks(child);
  }
  return n;
}

const plots = [];
function plot(container, name, spec) {
  const target = el('div', { class: 'plot' });
  container.append(target);
  plots.push(
    vegaEmbed(target, Object.assign({ $schema: 'https://vega.github.io/schema/vega-lite/v6.json', width: 420, height: 240 }, spec),
      { actions: false, renderer: 'svg' })
      .then((r) => whatifCheck.views.push({ name, marks: dataMarks(r.view.scenegraph().root) }))
      .catch((e) => whatifCheck.errors.push(`${name}: ${e.message || e}`)));
}

// Each metric against each numeric differing parameter, one line per combination of the others;
// error bars are ± one std over seeds. Non-finite means are listed under the plot.
function metricPlots(container, arms, keys, metrics) {
  for (const key of keys) {
    if (!arms.every((a) => typeof a.arm[key] === 'number')) continue;
    const others = keys.filter((k) => k !== key);
    for (const metric of metrics) {
      const rows = arms.filter((a) => a.metrics[metric]).map((a) => {
        const [mean, std] = a.metrics[metric].map(numeric);
        return { [key]: a.arm[key], mean, low: mean - std, high: mean + std,
                 line: others.map((k) => `${k}=${cell(a.arm, k)}`).join(', ') || metric };
      });
      const lines = new Map();
      for (const r of rows) lines.set(r.line, (lines.get(r.line) || 0) + 1);
      if (![...lines.values()].some((n) => n >= 2)) continue;
      const finite = rows.filter((r) => Number.isFinite(r.mean));
      const off = rows.filter((r) => !Number.isFinite(r.mean)).map((r) => `${key}=${r[key]}: ${fmt(r.mean)}`);
      const x = { field: key, type: 'quantitative', scale: { zero: false } };
      const color = { field: 'line', type: 'nominal', title: others.join(', ') || null };
      plot(container, `${metric} vs ${key}`, {
        title: { text: `${metric} vs ${key}`, subtitle: off.length ? `off the axis: ${off.join('; ')}` : '' },
        data: { values: finite },
        layer: [
          { mark: { type: 'line', point: true }, encoding: { x, y: { field: 'mean', type: 'quantitative', title: metric, scale: { zero: false } }, color, tooltip: [{ field: key }, { field: 'mean', format: '.4g' }, { field: 'line' }] } },
          { mark: 'rule', encoding: { x, y: { field: 'low', type: 'quantitative' }, y2: { field: 'high' }, color } },
        ],
      });
    }
  }
}

function curvePlots(container, curves) {
  for (const [name, series] of Object.entries(curves)) {
    const values = series.flatMap((s) => s.points.map((p) => ({ arm: s.arm, step: p.step, value: numeric(p.value) })))
      .filter((p) => Number.isFinite(p.value));
    plot(container, `curve ${name}`, {
      title: name,
      data: { values },
      mark: { type: 'line', strokeWidth: 1.2 },
      encoding: {
        x: { field: 'step', type: 'quantitative' },
        y: { field: 'value', type: 'quantitative', title: name, scale: { zero: false } },
        color: { field: 'arm', type: 'nominal', legend: series.length > 1 ? { orient: 'bottom', columns: 1 } : null },
      },
    });
  }
}

// ---- volumes ----------------------------------------------------------------------------------

const SLICE_TYPES = [['axial', 'sliceTypeAxial'], ['coronal', 'sliceTypeCoronal'], ['sagittal', 'sliceTypeSagittal'],
                     ['multiplanar', 'sliceTypeMultiplanar'], ['3D', 'sliceTypeRender']];

// Three linked Niivue views: factual | counterfactual | factual with the difference overlaid
// (counterfactual − factual: warm where it is brighter, cool where darker).
class PairViewer {
  constructor(container, title) {
    this.canvases = ['factual', 'counterfactual', 'difference'].map((role) => el('canvas', { class: 'volume', 'data-role': role }));
    this.captions = this.canvases.map(() => el('figcaption'));
    this.buttons = SLICE_TYPES.map(([label, type]) => el('button', { type: 'button', onclick: () => this.setSliceType(type) }, label));
    this.stats = el('p', { class: 'stats' });
    this.truth = el('p', { class: 'truth' });
    container.append(
      el('div', { class: 'toolbar' }, title ? el('span', {}, title) : null, this.buttons),
      // Niivue sizes a canvas to its parent: a square frame, so the caption stays below it.
      el('div', { class: 'triple' }, this.canvases.map((c, i) => el('figure', {}, el('div', { class: 'frame' }, c), this.captions[i]))),
      this.truth, this.stats);
    this.ready = this.attach();
  }

  async attach() {
    this.views = [];
    for (const canvas of this.canvases) {
      const nv = new niivue.Niivue({ backColor: [0, 0, 0, 1], crosshairColor: [1, 0.1, 0.1, 0.6], crosshairWidth: 0.5, show3Dcrosshair: true,
                                     isColorbar: false, dragAndDropEnabled: false, loadingText: '' });
      await nv.attachToCanvas(canvas);
      this.views.push(nv);
    }
    // Linked crosshairs: moving in one view moves the others.
    for (const nv of this.views) nv.broadcastTo(this.views.filter((o) => o !== nv), { '2d': true, '3d': true });
  }

  setSliceType(type) {
    for (const nv of this.views) nv.setSliceType(nv[type]);
    this.buttons.forEach((b, i) => b.classList.toggle('active', SLICE_TYPES[i][1] === type));
  }

  // factual, counterfactual: {name, nifti (base64 .nii.gz), shape}
  async show(factual, counterfactual) {
    await this.ready;
    const load = (v) => niivue.NVImage.loadFromBase64({ base64: v.nifti, name: `${v.name}.nii.gz` });
    const [f, c] = await Promise.all([load(factual), load(counterfactual)]);
    const diff = c.clone();
    diff.name = 'difference';
    let maxAbs = 0, changed = 0;
    for (let i = 0; i < diff.img.length; i++) {
      const d = c.img[i] - f.img[i];
      diff.img[i] = d;
      maxAbs = Math.max(maxAbs, Math.abs(d));
    }
    let lo = Infinity, hi = -Infinity;
    for (const v of f.img) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    for (const v of c.img) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    const range = Math.max(hi - lo, 1e-12);
    for (const v of diff.img) changed += Math.abs(v) > 0.1 * range;
    // One intensity window for both twins, so equal tissue looks equal.
    for (const img of [f, c]) { img.cal_min = lo; img.cal_max = hi; }
    const threshold = Math.max(0.1 * maxAbs, 1e-6 * range);
    Object.assign(diff, { colormap: 'warm', colormapNegative: 'winter', cal_min: threshold, cal_max: Math.max(maxAbs, threshold * 1.001), opacity: 0.9 });
    const images = [[f], [c], [f.clone(), diff]];
    this.views.forEach((nv, i) => {
      while (nv.volumes.length) nv.removeVolume(nv.volumes[0]);
      for (const img of images[i]) nv.addVolume(img);
      nv.updateGLVolume();
    });
    const noted = (v) => (v.note ? `${v.name} (${v.note})` : v.name);
    this.captions[0].textContent = `factual: ${noted(factual)}`;
    this.captions[1].textContent = `counterfactual: ${noted(counterfactual)}`;
    this.captions[2].textContent = `${counterfactual.name} − ${factual.name}`;
    // The change the counterfactual should show, as the run recorded it (ctx:sample's truth).
    const truth = counterfactual.truth || factual.truth;
    // (Playground pairs carry no truth field: nothing is known beyond the typed prompts.)
    this.truth.textContent = truth ? `ground truth: ${truth}` : 'truth' in counterfactual ? 'ground truth: not recorded by the run' : '';
    const voxels = counterfactual.spacing ? `${counterfactual.spacing.map(fmt).join(' × ')} mm voxels`
                                          : '1 mm voxels (the run recorded no grid for this sample)';
    this.stats.textContent = `max |difference| ${fmt(maxAbs)}; voxels changed by more than 10 % of the intensity range: ` +
      `${changed} of ${diff.img.length} (${fmt((100 * changed) / diff.img.length)} %); shape ${factual.shape.join('×')}, ${voxels}.`;
    this.setSliceType(factual.shape.length === 2 || factual.shape[0] === 1 ? 'sliceTypeAxial' : 'sliceTypeMultiplanar');
    return { maxAbs };
  }

  // Pixel statistics of each view as drawn now: luminance variance (a blank canvas has none) and
  // the number of coloured pixels (grey volumes are r = g = b; the overlay and crosshair are not).
  pixels() {
    return this.views.map((nv, i) => {
      nv.drawScene();
      const gl = nv.gl;
      const w = gl.drawingBufferWidth, h = gl.drawingBufferHeight;
      const px = new Uint8Array(w * h * 4);
      gl.readPixels(0, 0, w, h, gl.RGBA, gl.UNSIGNED_BYTE, px);
      let sum = 0, square = 0, coloured = 0;
      for (let p = 0; p < px.length; p += 4) {
        const y = 0.299 * px[p] + 0.587 * px[p + 1] + 0.114 * px[p + 2];
        sum += y;
        square += y * y;
        coloured += Math.max(px[p], px[p + 1], px[p + 2]) - Math.min(px[p], px[p + 1], px[p + 2]) > 48;
      }
      const n = w * h;
      return { role: this.canvases[i].dataset.role, width: w, height: h, variance: square / n - (sum / n) ** 2, coloured };
    });
  }
}

function sampleSection(container, samples) {
  const arms = samples.filter((s) => s.volumes.length >= 1);
  if (!arms.length) return null;
  const armSelect = el('select', { 'aria-label': 'arm' }, arms.map((s, i) => el('option', { value: i }, s.arm)));
  const factualSelect = el('select', { 'aria-label': 'factual' });
  const counterSelect = el('select', { 'aria-label': 'counterfactual' });
  const files = el('p', { class: 'files' });
  container.append(el('div', { class: 'toolbar' },
    el('label', {}, 'arm ', armSelect), el('label', {}, 'factual ', factualSelect), el('label', {}, 'counterfactual ', counterSelect)));
  const viewer = new PairViewer(container);
  container.append(files);
  const current = () => arms[Number(armSelect.value)];
  const show = () => {
    const vols = current().volumes;
    files.replaceChildren('NIfTI files: ', ...vols.map((v) => el('a', { href: v.file }, v.file)).flatMap((a, i) => (i ? [', ', a] : [a])));
    return viewer.show(vols[Number(factualSelect.value)], vols[Number(counterSelect.value)]);
  };
  // The script stores a pair factual first, counterfactual last (as the Markdown montage reads it).
  const fillPair = () => {
    const vols = current().volumes;
    for (const select of [factualSelect, counterSelect]) select.replaceChildren(...vols.map((v, i) => el('option', { value: i }, v.name)));
    factualSelect.value = '0';
    counterSelect.value = String(vols.length - 1);
  };
  armSelect.addEventListener('change', () => { fillPair(); show(); });
  factualSelect.addEventListener('change', show);
  counterSelect.addEventListener('change', show);
  fillPair();
  return { viewer, shown: show() };
}

function provenanceList(prov) {
  const keys = ['whatif', 'commit', 'libtorch', 'blas', 'cpu capability', 'threads', 'device', 'host'];
  return el('ul', {}, keys.filter((k) => k in prov).map((k) => el('li', {}, `${k}: ${typeof prov[k] === 'string' ? prov[k] : JSON.stringify(prov[k])}`)));
}

async function drawReport() {
  const data = JSON.parse(document.getElementById('whatif-data').textContent);
  const root = document.getElementById('report');
  const keys = differingKeys(data.arms), metrics = metricNames(data.arms);
  root.append(el('h1', {}, `Report: ${data.title}`),
    el('p', {}, `Run directory ${data.run_dir}; ${data.arms.length} arm(s). Values are mean ± std over seeds (n seeds); below three seeds, each seed's value in seed order (a / b).`));
  if (data.summary) root.append(el('h2', {}, 'Summary'), el('pre', { class: 'summary' }, data.summary));
  const results = resultsTable(data.arms, keys, metrics);
  root.append(el('h2', {}, 'Results'), results);
  whatifCheck.results = [...results.querySelectorAll('tr')].map((tr) => [...tr.children].map((c) => c.textContent));
  if (data.failures.length)
    root.append(el('h2', {}, 'Failed arms'), el('ul', {}, data.failures.map((f) => el('li', {}, el('code', {}, f.id), `: ${f.message}`))));
  const plotsBox = el('div', { class: 'plots' });
  metricPlots(plotsBox, data.arms, keys, metrics);
  if (plotsBox.childElementCount) root.append(el('h2', {}, 'Metrics against parameters (means over seeds, ± std)'), plotsBox);
  const curvesBox = el('div', { class: 'plots' });
  curvePlots(curvesBox, data.curves);
  if (curvesBox.childElementCount) root.append(el('h2', {}, 'Curves (first seed of each arm)'), curvesBox);
  const samplesBox = el('section', { id: 'samples' });
  const samples = data.samples.length ? sampleSection(samplesBox, data.samples) : null;
  if (samples) root.append(el('h2', {}, 'Samples (first seed of each arm)'), samplesBox);
  root.append(el('h2', {}, 'Provenance (first arm)'), provenanceList(data.provenance));
  const playground = el('section', { id: 'playground' });
  root.append(playground);
  if (window.whatifPlayground) window.whatifPlayground(playground);

  await Promise.allSettled(plots);
  if (samples) {
    const { maxAbs } = await samples.shown;
    await new Promise((r) => requestAnimationFrame(r));
    const views = samples.viewer.pixels();
    whatifCheck.viewers = views;
    whatifCheck.overlay = { max_abs_difference: maxAbs, coloured_pixels: views[2].coloured - views[0].coloured };
    whatifCheck.samples_text = { truth: samples.viewer.truth.textContent, stats: samples.viewer.stats.textContent };
  }
}

// After every script of the page has run (playground.js comes after this one).
window.addEventListener('DOMContentLoaded', () => drawReport()
  .catch((e) => whatifCheck.errors.push(String((e && e.stack) || e)))
  .finally(() => { whatifCheck.done = true; document.body.dataset.drawn = 'true'; }));
