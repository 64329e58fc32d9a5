// The console: sign in with the API token (kept in sessionStorage, sent only as a header),
// draw the topology, follow the controller's live state over a fetch()-read event stream
// (an EventSource cannot send the token), and plan/apply intents files.
import { TopologyView, withOffsets } from './graph.js';
import { applyResult, intentDetail, intentRows, planErrors, planResult, timeline } from './panels.js';

const KEY = 'netpilot.token';
const $ = (id) => document.getElementById(id);
const ui = { view: null, live: null, selected: null, selectedPaths: '', stream: null, paths: null, topoKey: '',
             shownEvents: new Set(['incident', 'link', 'move', 'tx', 'device']), planBody: null };

function token() { return sessionStorage.getItem(KEY); }

function headers(extra) { return { Authorization: `Bearer ${token()}`, ...(extra || {}) }; }

async function api(path, options) {
  const response = await fetch(path, { ...(options || {}), headers: headers(options && options.headers) });
  if (response.status === 401) {
    signOut('the controller refused the token (401); paste the current one');
    throw new Error('401');
  }
  const body = await response.json().catch(() => ({ detail: `HTTP ${response.status}` }));
  return { ok: response.ok, status: response.status, body };
}

function setConn(text, cls) {
  const conn = $('conn');
  conn.textContent = text;
  conn.className = `conn ${cls}`;
}

function signOut(message) {
  sessionStorage.removeItem(KEY);
  if (ui.stream) ui.stream.abort();
  ui.stream = null;
  ui.live = null;
  ui.selected = null;
  ui.paths = null;
  ui.topoKey = '';
  $('topo').replaceChildren();
  $('intents').tBodies[0].replaceChildren();
  $('intent-detail').replaceChildren();
  $('timeline').replaceChildren();
  $('plan-result').replaceChildren();
  $('console').hidden = true;
  $('logout').hidden = true;
  $('topo-name').textContent = '';
  $('login').hidden = false;
  $('login-error').textContent = message || '';
  setConn('signed out', 'off');
}

function showTopology(topo) {
  const key = JSON.stringify(topo);
  if (key === ui.topoKey) return;  // a reconnected stream sends it again: keep the drawing
  ui.topoKey = key;
  ui.view.draw(withOffsets(topo));
  if (ui.paths) ui.view.highlight(...ui.paths);
  $('topo-name').textContent = `${topo.name}: ${topo.nodes.length} routers, ${topo.links.length} links`;
  if (ui.live) showLive(ui.live);
}

function showLive(live) {
  ui.live = live;
  ui.view.update(live);
  intentRows($('intents').tBodies[0], live.intents, ui.selected, (name) => select(name).catch(() => {}));
  timeline($('timeline'), live, ui.shownEvents);
  if (ui.selected) {
    const it = live.intents.find((i) => i.name === ui.selected);
    const paths = it ? JSON.stringify([it.primary, it.backup]) : '';
    if (paths !== ui.selectedPaths) select(ui.selected).catch(() => {});  // it moved: new paths
  }
}

async function select(name) {
  ui.selected = name;
  for (const row of $('intents').tBodies[0].rows) {
    row.classList.toggle('selected', row.dataset.intent === name);
  }
  const { ok, body } = await api(`/v1/intents/${encodeURIComponent(name)}/status`);
  if (ui.selected !== name) return;
  if (!ok) {
    $('intent-detail').textContent = body.detail;
    ui.paths = null;
    ui.view.highlight(null, null);
    return;
  }
  const it = ui.live && ui.live.intents.find((i) => i.name === name);
  ui.selectedPaths = it ? JSON.stringify([it.primary, it.backup]) : '';
  intentDetail($('intent-detail'), body);
  ui.paths = [body.primary, body.backup];
  ui.view.highlight(...ui.paths);
  $('intent-detail').dataset.intent = name;
}

function onEvent(block) {
  let kind = 'message';
  const data = [];
  for (const line of block.split('\n')) {
    if (line.startsWith('event:')) kind = line.slice(6).trim();
    else if (line.startsWith('data:')) data.push(line.slice(5).trim());
  }
  if (!data.length) return;
  const doc = JSON.parse(data.join('\n'));
  if (kind === 'topology') showTopology(doc);
  else if (kind === 'live') showLive(doc);
}

async function follow() {
  const control = new AbortController();
  ui.stream = control;
  while (ui.stream === control) {
    try {
      const response = await fetch('/v1/ui/stream?interval=1', { headers: headers(), signal: control.signal });
      if (response.status === 401) { signOut('the controller refused the token (401)'); return; }
      if (!response.ok) throw new Error(`stream: HTTP ${response.status}`);
      setConn('live', 'live');
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          onEvent(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
        }
      }
    } catch (error) {
      if (control.signal.aborted) return;
      setConn('reconnecting', 'reconnecting');
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  }
}

async function start() {
  const { ok, body } = await api('/v1/ui/state');
  if (!ok) { signOut(body.detail); return; }
  $('login').hidden = true;
  $('console').hidden = false;
  $('logout').hidden = false;
  ui.live = body.live;
  showTopology(body.topology);
  // first paint: two frames after the drawing (bench/ui_paint.py reads it)
  requestAnimationFrame(() => requestAnimationFrame(() => {
    document.body.dataset.painted = String(Math.round(performance.now()));
  }));
  follow();
}

async function plan(apply) {
  $('plan-errors').replaceChildren();
  const text = $('plan-yaml').value;
  const parsed = await api('/v1/ui/intents:parse', { method: 'POST', body: text,
                                                    headers: { 'Content-Type': 'text/plain' } });
  if (!parsed.ok) { planErrors($('plan-errors'), parsed.body); return; }
  const body = { ...parsed.body, prune: $('plan-prune').checked };
  const answer = await api(apply ? '/v1/apply' : '/v1/plan', { method: 'POST', body: JSON.stringify(body),
                                                             headers: { 'Content-Type': 'application/json' } });
  if (!answer.ok) {
    planErrors($('plan-errors'), answer.body);
    $('apply-btn').disabled = true;
    return;
  }
  if (apply) {
    applyResult($('plan-result'), answer.body);
    $('apply-btn').disabled = true;
  } else {
    planResult($('plan-result'), answer.body);
    $('apply-btn').disabled = false;
  }
}

function wire() {
  ui.view = new TopologyView($('topo'));
  $('login-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const value = $('token').value.trim();
    $('token').value = '';
    if (!value) return;
    sessionStorage.setItem(KEY, value);
    start().catch(() => {});
  });
  $('logout').addEventListener('click', () => signOut(''));
  for (const button of document.querySelectorAll('#tabs button')) {
    button.addEventListener('click', () => {
      for (const other of document.querySelectorAll('#tabs button')) {
        other.classList.toggle('active', other === button);
        $(`tab-${other.dataset.tab}`).hidden = other !== button;
      }
    });
  }
  for (const box of document.querySelectorAll('#event-filter input')) {
    box.addEventListener('change', () => {
      if (box.checked) ui.shownEvents.add(box.value); else ui.shownEvents.delete(box.value);
      if (ui.live) timeline($('timeline'), ui.live, ui.shownEvents);
    });
  }
  $('plan-btn').addEventListener('click', () => plan(false).catch(() => {}));
  $('apply-btn').addEventListener('click', () => plan(true).catch(() => {}));
  $('plan-yaml').addEventListener('input', () => { $('apply-btn').disabled = true; });
  $('plan-file').addEventListener('change', async () => {
    const file = $('plan-file').files[0];
    if (file) $('plan-yaml').value = await file.text();
    $('apply-btn').disabled = true;
  });
  if (token()) start().catch(() => {}); else signOut('');
}

wire();
