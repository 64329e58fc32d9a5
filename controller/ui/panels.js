// The side panels: intents (table, selected intent's paths, SIDs and history), the events
// timeline, plan and apply. Everything is built with textContent: no data becomes markup.
export function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v === null || v === undefined) continue;
    node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function fill(box, ...children) {
  box.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
}

function ms(value) {
  return value === null || value === undefined ? '-' : `${(+value).toFixed(1)} ms`;
}

export function when(at) {
  const d = new Date(at * 1000);
  return d.toISOString().slice(11, 19);
}

export function intentRows(tbody, intents, selected, onSelect) {
  const rows = intents.map((it) => {
    const breach = it.asked_ms !== null && it.measured_ms !== null && it.measured_ms > it.asked_ms;
    const row = h('tr', { 'data-intent': it.name, class: it.name === selected ? 'selected' : null },
      h('td', {}, it.name),
      h('td', {}, h('span', { class: `state ${it.state}`, title: it.reason || '' }, it.state)),
      h('td', {}, it.service_class),
      h('td', { class: 'num' }, ms(it.asked_ms)),
      h('td', { class: 'num' }, ms(it.planned_ms)),
      h('td', { class: breach ? 'num breach' : 'num' }, ms(it.measured_ms)));
    row.addEventListener('click', () => onSelect(it.name));
    return row;
  });
  tbody.replaceChildren(...rows);
}

function pathBlock(title, path) {
  if (!path) return h('p', { class: 'muted' }, `${title}: none`);
  return h('div', { class: `path ${title}` },
    h('h4', {}, `${title}: ${path.nodes.join(' \u2192 ')}`),
    h('p', {}, `${path.hops} hops, ${ms(path.latency_ms)} planned, links `,
      h('span', { class: 'path-links' }, path.links.join(', '))),
    h('p', { class: 'sids' }, 'SIDs: ', h('span', { class: 'sid-list' }, path.sids.join(', '))));
}

export function intentDetail(box, status) {
  const sla = status.sla || {};
  const asked = sla.asked || {};
  const measured = sla.measured;
  fill(box,
    h('h3', {}, status.name, ' ', h('span', { class: `state ${status.state}` }, status.state)),
    h('p', { class: 'muted' }, status.reason || ''),
    h('p', {}, `class ${status.service_class}, priority ${status.priority}, DSCP ${status.dscp}; `,
      `SLA asked ${ms(asked.max_latency_ms)}`,
      asked.max_loss !== null && asked.max_loss !== undefined ? `, loss \u2264 ${asked.max_loss}` : '',
      `; measured ${measured ? ms(measured.latency_ms) : 'n/a'}`),
    pathBlock('primary', status.primary),
    pathBlock('backup', status.backup),
    status.shared_risks && status.shared_risks.length
      ? h('p', {}, `shared risks: ${status.shared_risks.join(', ')}`) : null,
    h('h4', {}, 'history'),
    h('ol', { class: 'history' }, [...status.history].reverse().map((t) =>
      h('li', {}, h('span', { class: 'when' }, when(t.at)), ' ',
        h('span', { class: `state ${t.state}` }, t.state), ' ', t.reason))));
}

const LINK_KINDS = new Set(['topology', 'avoid', 'avoid-clear', 'telemetry']);
const DEVICE_KINDS = new Set(['device-stale', 'device-recovered', 'drift', 'drift-repaired']);

export function category(event) {
  if (event.kind === 'incident') return 'incident';  // alarm correlation (docs/incidents.md)
  if (LINK_KINDS.has(event.kind)) return 'link';
  if (DEVICE_KINDS.has(event.kind)) return 'device';
  if (event.kind === 'optimize' || (event.kind === 'reconcile' && /moved=[1-9]/.test(event.detail))) {
    return 'move';
  }
  return 'other';
}

function sections(diff) {
  if (Array.isArray(diff)) return diff.join(', ');
  return Object.entries(diff).map(([section, change]) => {
    if (Array.isArray(change)) return `${section}: ${change.join(', ')}`;
    const parts = ['added', 'removed', 'changed']
      .filter((k) => change[k] && change[k].length)
      .map((k) => `${k} ${change[k].join(', ')}`);
    return `${section}: ${parts.join('; ')}`;
  }).join(' | ');
}

function txItem(rev) {
  const failed = rev.status !== 'committed';
  const devices = Object.entries(rev.diff || {});
  return h('li', { class: `ev-tx${failed ? ' failed' : ''}`, 'data-kind': 'tx', 'data-revision': rev.id },
    h('span', { class: 'when' }, when(rev.created_at)),
    h('span', { class: 'kind' }, `transaction r${rev.id} ${rev.status}`),
    `${rev.devices} device(s); ${rev.cause}`,
    rev.error ? h('div', { class: 'error' }, rev.error) : null,
    h('ul', { class: 'devices' }, devices.map(([device, diff]) =>
      h('li', { 'data-device': device }, h('b', {}, device), `: ${failed ? 'not committed' : 'committed'}; `,
        sections(diff)))));
}

export function timeline(list, live, shown) {
  const items = [];
  for (const e of live.events) {
    const cat = category(e);
    if (!shown.has(cat)) continue;
    items.push([e.at, h('li', { class: `ev-${cat}`, 'data-kind': e.kind },
      h('span', { class: 'when' }, when(e.at)), h('span', { class: 'kind' }, e.kind), e.cause,
      e.detail ? h('div', { class: 'detail' }, e.detail) : null)]);
  }
  if (shown.has('tx')) for (const rev of live.revisions) items.push([rev.created_at, txItem(rev)]);
  items.sort((a, b) => b[0] - a[0]);
  list.replaceChildren(...items.slice(0, 300).map((i) => i[1]));
}

export function planErrors(list, body) {
  const errors = body.errors || [{ field: 'body', message: body.detail || 'refused' }];
  list.replaceChildren(...errors.map((e) =>
    h('li', { 'data-field': e.field }, h('code', {}, e.field), ': ', e.message)));
}

export function planResult(box, plan) {
  const changes = plan.changes.filter((c) => c.action !== 'unchanged');
  const devices = Object.entries(plan.devices || {});
  fill(box,
    h('h4', {}, `${changes.length} change(s), ${devices.length} device(s) to configure`),
    h('table', { class: 'changes' }, h('tbody', {}, changes.map((c) =>
      h('tr', {}, h('td', {}, c.name), h('td', {}, c.action))))),
    Object.keys(plan.unplaced || {}).length
      ? h('p', { class: 'error' }, 'not placed: ', Object.entries(plan.unplaced)
        .map(([n, why]) => `${n} (${why})`).join('; ')) : null,
    plan.moved && plan.moved.length ? h('p', {}, `moved: ${plan.moved.join(', ')}`) : null,
    h('h4', {}, 'per-device diff'),
    h('table', { class: 'device-diff' }, h('tbody', {}, devices.map(([device, diff]) =>
      h('tr', { 'data-device': device }, h('td', {}, device), h('td', {}, sections(diff)))))));
}

export function applyResult(box, result) {
  const changed = result.changes.filter((c) => c.action !== 'unchanged');
  fill(box, h('h4', { class: 'applied' }, `applied: ${changed.length} change(s)`),
    h('table', {}, h('tbody', {}, result.changes.map((c) =>
      h('tr', {}, h('td', {}, c.name), h('td', {}, c.action))))));
}
