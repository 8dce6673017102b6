// The counterfactual playground of `whatif serve`: pick a saved model of the run, a seed, two
// prompts (or attribute values), guidance w and sampler steps; the server queues the request,
// samples the pair and the page shows it in the same linked Niivue views as the report. Only
// active when the page comes from the server (http), never from the file system.
'use strict';

window.whatifPlayground = function (section) {
  if (!location.protocol.startsWith('http')) return;
  const message = el('p', { class: 'message', role: 'alert' });
  const status = el('span', { class: 'status' });
  const bar = el('progress', { max: 1, value: 0, hidden: '' });
  const model = el('select', { name: 'model', 'aria-label': 'model' });
  const seed = el('input', { type: 'number', name: 'seed', value: '1', min: '0', step: '1' });
  const guidance = el('input', { type: 'number', name: 'guidance', value: '2', step: '0.5' });
  const steps = el('input', { type: 'number', name: 'steps', value: '20', min: '1', step: '1' });
  const conditions = el('div');
  const submit = el('button', { type: 'submit' }, 'Generate the pair');
  const form = el('form', {},
    el('label', {}, 'model'), model, el('label', {}, 'seed'), seed, el('label', {}, 'guidance w'), guidance,
    el('label', {}, 'sampler steps'), steps, el('span', {}, 'conditions'), conditions, el('span'), el('div', {}, submit, ' ', bar, ' ', status));
  section.append(el('h2', {}, 'Playground'), el('p', {}, 'Same seed (the same starting noise), two conditions: the pair differs only by what you change.'),
    form, message);
  const viewerBox = el('div', { hidden: '' });
  section.append(viewerBox);
  let viewer = null, models = [];

  const conditionInputs = () => {
    const m = models[Number(model.value)];
    conditions.replaceChildren();
    if (!m) return;
    if (!m.text && m.attributes.length) {
      for (const side of ['factual', 'counterfactual'])
        conditions.append(el('div', {}, `${side}: `, m.attributes.map((a) => el('label', {}, `${a} `, el('input', { type: 'number', step: 'any', name: `${side}.${a}`, value: '0', size: 6 }), ' '))));
    } else {
      conditions.append(el('input', { type: 'text', name: 'factual', 'aria-label': 'factual prompt', placeholder: 'factual prompt' }),
                        el('input', { type: 'text', name: 'counterfactual', 'aria-label': 'counterfactual prompt', placeholder: 'counterfactual prompt' }));
    }
  };
  model.addEventListener('change', conditionInputs);

  const request = () => {
    const m = models[Number(model.value)];
    const body = { model: m.id, seed: Number(seed.value), guidance: Number(guidance.value), steps: Number(steps.value) };
    if (!m.text && m.attributes.length) {
      body.attributes = ['factual', 'counterfactual'].map((side) =>
        Object.fromEntries(m.attributes.map((a) => [a, Number(form.elements[`${side}.${a}`].value)])));
    } else {
      body.prompts = [form.elements.factual.value, form.elements.counterfactual.value];
    }
    return body;
  };

  const poll = async (job) => {
    for (;;) {
      const r = await fetch(`api/jobs/${job}`);
      const j = await r.json();
      if (!r.ok || j.state === 'failed') throw new Error(j.error || `HTTP ${r.status}`);
      if (j.state === 'done') return j;
      bar.value = j.progress || 0;
      status.textContent = j.state === 'queued' ? `queued (${j.position} ahead)` : `sampling ${Math.round(100 * (j.progress || 0))} %`;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  };

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    message.textContent = '';
    submit.disabled = true;
    bar.hidden = false;
    bar.value = 0;
    try {
      const r = await fetch('api/counterfactual', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(request()) });
      const j = await r.json();
      if (!r.ok) throw new Error(j.error || `HTTP ${r.status}`);
      const done = await poll(j.job);
      viewerBox.hidden = false;
      if (!viewer) viewer = new PairViewer(viewerBox, 'playground pair');
      const { maxAbs } = await viewer.show(done.factual, done.counterfactual);
      status.textContent = `done in ${fmt(done.seconds)} s`;
      await new Promise((r) => requestAnimationFrame(r));
      whatifCheck.playground = { seconds: done.seconds, max_abs_difference: maxAbs, viewers: viewer.pixels() };
    } catch (err) {
      message.textContent = String(err.message || err);
      status.textContent = '';
      (whatifCheck.playgroundMessages = whatifCheck.playgroundMessages || []).push(message.textContent);
    } finally {
      submit.disabled = false;
      bar.hidden = true;
    }
  });

  fetch('api/models').then((r) => r.json()).then((j) => {
    models = j.models || [];
    if (!models.length) {
      message.textContent = j.note || 'This run holds no saved model.';
      submit.disabled = true;
      return;
    }
    model.replaceChildren(...models.map((m, i) => el('option', { value: i }, `${m.id} (${m.family})`)));
    conditionInputs();
  }).catch((err) => { message.textContent = `cannot list the run's models: ${err.message || err}`; });
};
