// Herald admin console: one ES module, no build step, no dependency. Every call is an /api/admin/*
// route of the logic that serves this file, authenticated with the admin credentials, which are kept
// in sessionStorage only (gone when the tab closes; never in a URL). The DOM is built with
// createElement/textContent only: namespace names, clientIds and pushData are other people's text.

/**
 * Where logic's routes are, as seen by the browser: the path before `/push-admin/`, so the console
 * works behind a proxy prefix too (deploy/nginx serves logic under `/push-logic/`).
 */
const BASE = location.pathname.slice(0, Math.max(0, location.pathname.lastIndexOf('/push-admin/')));
const SESSION_KEY = 'herald-admin';
const NS_KEY = 'herald-namespace';
const PLATFORMS = ['web', 'android', 'ios'];
const APNS_SECRETS = ['apns_dev_cert', 'apns_dev_key', 'apns_production_cert', 'apns_production_key', 'token_key'];

const main = document.getElementById('main');
const statusLine = document.getElementById('status');
let refreshTimer;
/** The message to show once a navigation started by `navigate` lands (a hash change clears the line). */
let flash;

// ---- helpers

/** `h('td', {class: 'num'}, 'text', child…)`: an element; strings become text nodes. */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
    else if (name === 'value') el.value = value;
    else if (name === 'checked') el.checked = Boolean(value);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function status(text, kind = 'info') {
  statusLine.textContent = text;
  statusLine.className = kind;
}

function time(ms) {
  if (!ms) return '—';
  const d = new Date(Number(ms));
  return `${d.toLocaleDateString()} ${d.toLocaleTimeString()}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

/** base64 of UTF-8 text (btoa alone takes Latin-1 only). */
function base64(text) {
  return btoa(String.fromCharCode(...new TextEncoder().encode(text)));
}

function credentials() {
  const raw = sessionStorage.getItem(SESSION_KEY);
  return raw ? JSON.parse(raw) : null;
}

class ApiError extends Error {
  constructor(status, body) {
    super(body && body.msg ? `${body.msg} (${body.code})` : `HTTP ${status}`);
    this.status = status;
    this.code = body && body.code;
  }
}

/** One admin API call; a 401 logs out. */
async function api(method, path, { query, body, auth = credentials() } = {}) {
  const url = new URL(BASE + path, location.origin);
  for (const [name, value] of Object.entries(query ?? {})) if (value !== undefined && value !== '') url.searchParams.set(name, value);
  const headers = { authorization: `Basic ${base64(`${auth.user}:${auth.password}`)}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  const json = text ? JSON.parse(text) : {};
  if (!response.ok) {
    if (response.status === 401 && path !== '/api/admin/login') logout();
    throw new ApiError(response.status, json);
  }
  return json;
}

/** Runs an action, reporting its failure in the status line. */
async function attempt(action, success) {
  try {
    const result = await action();
    if (success) status(typeof success === 'function' ? success(result) : success, 'info');
    return result;
  } catch (error) {
    status(error.message, 'error');
    return undefined;
  }
}

function selectedNamespace() {
  return sessionStorage.getItem(NS_KEY) ?? '';
}

async function namespaceNames() {
  const names = [];
  for (let page = 1; ; page++) {
    const { list, total } = await api('GET', '/api/admin/namespace/list', { query: { page, pageSize: 100 } });
    names.push(...list.map((n) => n.key));
    if (names.length >= total || list.length === 0) return names;
  }
}

/** A namespace picker bound to the session's selected namespace; `onChange` re-renders. */
async function namespacePicker(onChange) {
  const names = await namespaceNames();
  let current = selectedNamespace();
  if (!names.includes(current)) current = names[0] ?? '';
  sessionStorage.setItem(NS_KEY, current);
  const select = h(
    'select',
    { id: 'namespace-picker', onchange: () => { sessionStorage.setItem(NS_KEY, select.value); onChange(select.value); } },
    names.map((name) => h('option', { value: name, selected: name === current }, name)),
  );
  return { element: h('label', {}, 'Namespace', select), current };
}

function table(headers, rows, attrs = {}, empty = 'nothing yet') {
  // A column is numeric when its first row's cell is.
  const numeric = (i) => rows[0]?.children[i]?.classList.contains('num');
  return h(
    'table',
    attrs,
    h('thead', {}, h('tr', {}, headers.map((title, i) => h('th', { class: numeric(i) ? 'num' : undefined }, title)))),
    h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { colspan: headers.length, class: 'muted' }, empty))),
  );
}

/** Previous / next links between pages of a list: `#/<base>/<page>`. */
function pager(base, page, hasMore) {
  return h(
    'div',
    { class: 'row pager' },
    page > 1 ? h('a', { href: `#/${base}/${page - 1}`, 'data-pager': 'previous' }, '← newer') : null,
    h('span', { class: 'muted' }, `page ${page}`),
    hasMore ? h('a', { href: `#/${base}/${page + 1}`, 'data-pager': 'next' }, 'older →') : null,
  );
}

function figure(label, value, id) {
  return h('div', { class: 'figure' }, h('div', { class: 'n', 'data-figure': id }, String(value)), h('div', { class: 'l' }, label));
}

// ---- pages

function loginPage() {
  const user = h('input', { id: 'login-user', value: 'admin', autocomplete: 'username' });
  const password = h('input', { id: 'login-password', type: 'password', autocomplete: 'current-password' });
  const form = h(
    'form',
    {
      onsubmit: async (event) => {
        event.preventDefault();
        const auth = { user: user.value, password: password.value };
        const ok = await attempt(() => api('POST', '/api/admin/login', { auth }));
        if (!ok) return;
        sessionStorage.setItem(SESSION_KEY, JSON.stringify(auth));
        navigate('#/namespaces', '');
      },
    },
    h('label', {}, 'Admin name', user),
    h('label', {}, 'Admin password', password),
    h('button', { id: 'login-submit', type: 'submit' }, 'Log in'),
  );
  return h('div', { class: 'card login' }, h('h1', {}, 'Herald console'), h('p', { class: 'muted' }, 'The admin credentials (HERALD_ADMIN_NAME / HERALD_ADMIN_PASSWORD).'), form);
}

async function namespacesPage(page = 1) {
  const { list, total } = await api('GET', '/api/admin/namespace/list', { query: { page, pageSize: 100, online: 'true' } });
  const rows = list.map((ns) =>
    h(
      'tr',
      { 'data-namespace': ns.key },
      h('td', {}, h('a', { href: `#/namespace/${encodeURIComponent(ns.key)}` }, ns.key)),
      h('td', {}, ns.name),
      h('td', {}, h('span', { class: `pill ${ns.offline}` }, ns.offline === 'on' ? 'offline' : 'online')),
      h('td', { class: 'num' }, ns.clientCount),
      h('td', { class: 'num' }, ns.roomCount),
      h('td', {}, ns.apns_list.map((a) => a.name).join(', ') || '—'),
      h('td', {}, time(ns.update_date)),
      h(
        'td',
        {},
        h('button', {
          class: 'secondary',
          'data-action': 'toggle-offline',
          onclick: () => attempt(() => api('POST', '/api/admin/namespace/save', { body: { key: ns.key, offline: ns.offline === 'on' ? 'off' : 'on' } }), `${ns.key} switched offline ${ns.offline === 'on' ? 'off' : 'on'}`).then(route),
        }, ns.offline === 'on' ? 'Bring online' : 'Take offline'),
      ),
    ),
  );
  return h(
    'div',
    {},
    h('div', { class: 'row' }, h('h1', {}, `Namespaces (${total})`), h('span', { class: 'spacer' }), h('a', { href: '#/namespace/new' }, h('button', { id: 'new-namespace' }, 'New namespace'))),
    table(['Namespace', 'Name', 'State', 'Clients', 'Rooms', 'APNs configs', 'Updated', ''], rows, { id: 'namespace-table' }),
    total > 100 ? pager('namespaces', page, page * 100 < total) : null,
  );
}

/** The namespace form: every field of `POST /api/admin/namespace/save`; secrets are write-only. */
async function namespaceEditPage(key) {
  const creating = key === 'new';
  let ns = { key: '', name: '', offline: 'off', connect_callback: '', disconnect_callback: '', apns_list: [] };
  if (!creating) {
    const { list } = await api('GET', '/api/admin/namespace/list', { query: { key, pageSize: 100 } });
    ns = list.find((n) => n.key === key);
    if (!ns) throw new Error(`namespace ${key} not found`);
  }
  const f = {
    key: h('input', { id: 'ns-key', value: ns.key, disabled: !creating, placeholder: '/demo' }),
    name: h('input', { id: 'ns-name', value: ns.name }),
    password: h('input', { id: 'ns-password', type: 'password', autocomplete: 'new-password', placeholder: ns.auth_passwd ? 'set — leave empty to keep' : 'not set' }),
    connect: h('input', { id: 'ns-connect', value: ns.connect_callback, placeholder: 'https://…' }),
    disconnect: h('input', { id: 'ns-disconnect', value: ns.disconnect_callback, placeholder: 'https://…' }),
    callbackAuth: h('input', { id: 'ns-callback-auth', type: 'password', autocomplete: 'off', placeholder: ns.callback_auth ? 'set — leave empty to keep' : 'not set' }),
    clearCallbackAuth: h('input', { type: 'checkbox' }),
    offline: h('input', { id: 'ns-offline', type: 'checkbox', checked: ns.offline === 'on' }),
    inbox: Object.fromEntries(PLATFORMS.map((p) => [p, h('input', { type: 'checkbox', 'data-platform': p, checked: (ns.inbox_platforms ?? ['android']).includes(p) })])),
  };
  const apnsForms = [];
  const apnsBox = h('div', { id: 'apns-list' });
  const addApns = (item, isNew) => {
    const fields = {
      name: h('input', { value: item.name ?? '', disabled: !isNew, 'data-field': 'name' }),
      apns_env: h('select', { 'data-field': 'apns_env' }, ['', 'dev', 'production'].map((v) => h('option', { value: v, selected: (item.apns_env ?? '') === v }, v || '(unset)'))),
      apns_topic: h('input', { value: item.apns_topic ?? '', 'data-field': 'apns_topic' }),
      apns_expiration: h('input', { type: 'number', min: 0, value: item.apns_expiration ?? '', 'data-field': 'apns_expiration' }),
      token_keyId: h('input', { value: item.token_keyId ?? '', 'data-field': 'token_keyId' }),
      token_teamId: h('input', { value: item.token_teamId ?? '', 'data-field': 'token_teamId' }),
    };
    const secrets = Object.fromEntries(
      APNS_SECRETS.map((s) => [s, { text: h('textarea', { 'data-field': s, placeholder: item[s] ? 'set — leave empty to keep (PEM)' : 'not set (PEM block)' }), remove: h('input', { type: 'checkbox', disabled: !item[s] }) }]),
    );
    const del = h('input', { type: 'checkbox' });
    const box = h(
      'div',
      { class: 'apns' },
      h('div', { class: 'grid' }, Object.entries(fields).map(([name, input]) => h('label', {}, name, input))),
      h('div', { class: 'grid' }, Object.entries(secrets).map(([name, s]) => h('label', {}, `${name}${item[name] ? ' (set)' : ''}`, s.text, h('label', { class: 'check' }, s.remove, 'remove')))),
      isNew ? null : h('label', { class: 'check' }, del, `delete configuration "${item.name}"`),
    );
    apnsForms.push(() => {
      const name = fields.name.value.trim();
      if (!name) return undefined;
      if (del.checked) return { name, del: true };
      const out = { name };
      if (fields.apns_env.value) out.apns_env = fields.apns_env.value;
      for (const field of ['apns_topic', 'token_keyId', 'token_teamId']) if (fields[field].value !== '' || item[field] !== undefined) out[field] = fields[field].value;
      if (fields.apns_expiration.value !== '') out.apns_expiration = Number(fields.apns_expiration.value);
      for (const [field, s] of Object.entries(secrets)) {
        if (s.remove.checked) out[field] = '';
        else if (s.text.value.trim()) out[field] = s.text.value;
      }
      return out;
    });
    apnsBox.append(box);
  };
  ns.apns_list.forEach((item) => addApns(item, false));

  const save = async (event) => {
    event.preventDefault();
    const body = { key: creating ? f.key.value.trim() : ns.key, name: f.name.value, connect_callback: f.connect.value.trim(), disconnect_callback: f.disconnect.value.trim(), offline: f.offline.checked ? 'on' : 'off' };
    if (f.password.value) body.auth_passwd = f.password.value;
    if (f.clearCallbackAuth.checked) body.callback_auth = '';
    else if (f.callbackAuth.value) body.callback_auth = f.callbackAuth.value;
    const inbox = PLATFORMS.filter((p) => f.inbox[p].checked);
    if (inbox.length) body.inbox_platforms = inbox;
    const apns = apnsForms.map((read) => read()).filter(Boolean);
    if (apns.length) body.apns_list = apns;
    const ok = await attempt(() => api('POST', '/api/admin/namespace/save', { body }));
    if (ok) {
      sessionStorage.setItem(NS_KEY, body.key);
      navigate(`#/namespace/${encodeURIComponent(body.key)}`, `saved ${body.key}`);
    }
  };
  return h(
    'form',
    { id: 'namespace-form', onsubmit: save },
    h('h1', {}, creating ? 'New namespace' : `Namespace ${ns.key}`),
    h(
      'div',
      { class: 'card' },
      h('div', { class: 'grid' },
        h('label', {}, 'key', f.key),
        h('label', {}, 'name', f.name),
        h('label', {}, `auth_passwd${ns.auth_passwd ? ' (set)' : ''}`, f.password),
        h('label', {}, 'connect_callback', f.connect),
        h('label', {}, 'disconnect_callback', f.disconnect),
        h('label', {}, `callback_auth${ns.callback_auth ? ' (set)' : ''}`, f.callbackAuth, h('label', { class: 'check' }, f.clearCallbackAuth, 'remove')),
      ),
      h('div', { class: 'row' },
        h('label', { class: 'check' }, f.offline, 'offline (refuse sockets and pushes)'),
        h('span', { class: 'muted' }, 'inbox_platforms:'),
        PLATFORMS.map((p) => h('label', { class: 'check' }, f.inbox[p], p)),
      ),
      creating ? null : h('p', { class: 'muted' }, `Last saved ${time(ns.update_date)} from ${ns.client_ip || '—'}.`),
    ),
    h('h2', {}, 'APNs configurations'),
    h('p', { class: 'muted' }, 'Certificates and keys are write-only: the console shows whether one is set, never its content.'),
    apnsBox,
    h('div', { class: 'row' },
      h('button', { type: 'button', class: 'secondary', id: 'add-apns', onclick: () => addApns({}, true) }, 'Add an APNs configuration'),
      h('button', { type: 'submit', id: 'save-namespace' }, 'Save'),
    ),
  );
}

async function onlinePage() {
  const root = h('div', {});
  const picker = await namespacePicker(() => route());
  const live = h('input', { type: 'checkbox', id: 'live-refresh', checked: true });
  const body = h('div', { id: 'online-body' });
  const render = async () => {
    if (!picker.current) return body.replaceChildren(h('p', { class: 'muted' }, 'No namespace yet.'));
    const o = await api('GET', '/api/admin/namespace/online', { query: { namespace: picker.current } });
    body.replaceChildren(
      ...[h('div', { class: 'figures' },
        figure('clients online', o.clientCount, 'clientCount'),
        figure('users online', o.userCount, 'userCount'),
        figure('rooms with someone online', o.roomCount, 'roomCount'),
        figure('known clients', o.totalClientCount, 'totalClientCount'),
        PLATFORMS.map((p) => figure(`${p} online`, o.platforms[p], `platform-${p}`)),
      ),
      h('h2', {}, 'Rooms'),
      table(
        ['Room', 'Users', 'Clients', 'web', 'android', 'ios', 'Members'],
        o.rooms.map((r) => h('tr', { 'data-room': r.name }, h('td', {}, r.name), h('td', { class: 'num' }, r.userCount), h('td', { class: 'num' }, r.clientCount), h('td', { class: 'num' }, r.webClientCount), h('td', { class: 'num' }, r.androidClientCount), h('td', { class: 'num' }, r.iosClientCount), h('td', { class: 'num' }, r.totalClientCount))),
        { id: 'rooms-table' },
      ),
      o.roomsTruncated ? h('p', { class: 'muted' }, 'Only the first 100 rooms are shown.') : null,
      h('p', { class: 'muted' }, `Updated ${new Date().toLocaleTimeString()}`)].filter(Boolean),
    );
  };
  await render();
  // One render at a time: on a slow connection a refresh could otherwise overlap the previous one
  // and its older answer land last, showing figures from before the newer ones.
  let rendering = false;
  refreshTimer = setInterval(() => {
    if (!live.checked || rendering) return;
    rendering = true;
    render().catch((e) => status(e.message, 'error')).finally(() => { rendering = false; });
  }, 2000);
  root.append(h('h1', {}, 'Online'), h('div', { class: 'row card' }, picker.element, h('label', { class: 'check' }, live, 'live refresh (2 s)')), body);
  return root;
}

async function pushPage() {
  const picker = await namespacePicker(() => {});
  const f = {
    room: h('input', { id: 'push-room', placeholder: 'r1' }),
    pushData: h('textarea', { id: 'push-data' }, '{"hello":"world"}'),
    leaveMessage: h('input', { id: 'push-leave', type: 'checkbox' }),
    expire: h('input', { id: 'push-expire', type: 'number', min: 0.01, max: 10, step: 'any', placeholder: '1' }),
    except: h('input', { id: 'push-except', placeholder: 'a clientId' }),
    apnsName: h('input', { id: 'push-apns', placeholder: 'apns configuration' }),
  };
  const result = h('div', { id: 'push-result' });
  const send = async (event) => {
    event.preventDefault();
    let pushData;
    try {
      pushData = JSON.parse(f.pushData.value);
    } catch {
      return status('pushData must be JSON', 'error');
    }
    const namespace = document.getElementById('namespace-picker').value;
    const body = { room: f.room.value.trim(), pushData, leaveMessage: f.leaveMessage.checked };
    if (f.expire.value) body.expire = Number(f.expire.value);
    if (f.except.value) body.except = f.except.value;
    if (f.apnsName.value) body.apnsName = f.apnsName.value;
    const answer = await attempt(() => api('POST', '/api/admin/push', { query: { namespace }, body }), (a) => `message ${a.id} accepted`);
    if (!answer) return;
    result.replaceChildren(
      h('div', { class: 'card' },
        h('span', {}, 'Message '), h('strong', { 'data-message-id': answer.id }, String(answer.id)),
        h('span', {}, ` accepted; ${answer.expectAckCount} client(s) online in the room. `),
        h('a', { id: 'push-timeline-link', href: `#/report/${encodeURIComponent(namespace)}/${answer.id}` }, 'Report and timeline →'),
      ),
    );
  };
  return h(
    'form',
    { id: 'push-form', onsubmit: send },
    h('h1', {}, 'Push'),
    h('div', { class: 'card' },
      h('div', { class: 'grid' }, picker.element, h('label', {}, 'room', f.room), h('label', {}, 'expire (hours, ≤ 10)', f.expire), h('label', {}, 'except', f.except), h('label', {}, 'apnsName', f.apnsName)),
      h('label', {}, 'pushData (JSON object)', f.pushData),
      h('div', { class: 'row' }, h('label', { class: 'check' }, f.leaveMessage, 'leaveMessage (offline delivery: inbox, APNs)'), h('button', { type: 'submit', id: 'push-send' }, 'Push')),
    ),
    result,
  );
}

const REPORTS_PER_PAGE = 50;

async function reportsPage(page = 1) {
  const picker = await namespacePicker(() => route());
  const list = picker.current ? await api('GET', '/api/admin/report/push', { query: { namespace: picker.current, page, size: REPORTS_PER_PAGE } }) : [];
  const rows = list.map((r) =>
    h(
      'tr',
      { 'data-report': r.id },
      h('td', { class: 'num' }, h('a', { href: `#/report/${encodeURIComponent(picker.current)}/${r.id}` }, String(r.id))),
      h('td', {}, time(r.sendDate)),
      h('td', {}, r.room),
      h('td', { class: 'mono' }, JSON.stringify(r.pushData).slice(0, 60)),
      h('td', { class: 'num' }, r.onlineClientCount),
      h('td', { class: 'num' }, r.ackCount),
      h('td', {}, r.leaveMessage ? r.offline ?? 'pending' : '—'),
      h('td', {}, r.result || ''),
    ),
  );
  return h(
    'div',
    {},
    h('h1', {}, 'Push reports'),
    h('div', { class: 'card row' }, picker.element),
    table(['#', 'Sent', 'Room', 'pushData', 'Sockets', 'Acks', 'Offline', 'Result'], rows, { id: 'report-table' }),
    page > 1 || list.length === REPORTS_PER_PAGE ? pager('reports', page, list.length === REPORTS_PER_PAGE) : null,
  );
}

function describeStep(entry) {
  switch (entry.step) {
    case 'accepted': return [`pushed to room ${entry.room}`, entry.from ? ` by ${entry.from}` : ''];
    case 'delivered': return [`written to ${entry.sockets} socket(s) by connector `, h('code', {}, entry.connector)];
    case 'acked': return ['acked by ', h('code', {}, entry.clientId), ` (${entry.platform})`];
    case 'offline': return [`offline step: ${entry.inbox} inbox entr${entry.inbox === 1 ? 'y' : 'ies'}, ${entry.apns} iOS device(s) for APNs`];
    case 'apns': return ['APNs ', h('span', { class: entry.outcome === 'ok' ? 'ok' : 'bad' }, entry.outcome), ' for ', h('code', {}, entry.clientId), ` (token ${entry.token})`];
    default: return [JSON.stringify(entry)];
  }
}

async function reportPage(namespace, id) {
  const [report, timeline] = await Promise.all([
    api('GET', `/api/admin/report/push/${id}`, { query: { namespace, ackDetail: 'true' } }),
    api('GET', `/api/admin/report/push/${id}/timeline`, { query: { namespace } }),
  ]);
  const start = timeline.entries[0]?.at ?? 0;
  const details = [['web', report.ackWebDetail], ['android', report.ackAndroidDetail], ['ios', report.ackIOSDetail]];
  return h(
    'div',
    {},
    h('h1', {}, `Message ${report.id} of ${namespace}`),
    h('div', { class: 'figures' },
      figure('sockets written to', report.onlineClientCount, 'onlineClientCount'),
      figure('acks', report.ackCount, 'ackCount'),
      figure('android acks', report.ackAndroidCount, 'ackAndroidCount'),
      figure('ios acks', report.ackIOSCount, 'ackIOSCount'),
      figure('APNs sent', report.apnsSuccessCount, 'apnsSuccessCount'),
    ),
    h('div', { class: 'card' },
      h('div', { class: 'grid' },
        h('div', {}, h('span', { class: 'muted' }, 'room '), report.room),
        h('div', {}, h('span', { class: 'muted' }, 'sent '), time(report.sendDate)),
        h('div', {}, h('span', { class: 'muted' }, 'expire '), `${report.expire} h`),
        h('div', {}, h('span', { class: 'muted' }, 'leaveMessage '), String(report.leaveMessage)),
        h('div', {}, h('span', { class: 'muted' }, 'offline '), report.offline ?? '—'),
        h('div', {}, h('span', { class: 'muted' }, 'result '), report.result || '—'),
      ),
      h('h2', {}, 'pushData'),
      h('pre', { class: 'mono' }, JSON.stringify(report.pushData, null, 2)),
    ),
    h('h2', {}, 'Timeline'),
    table(
      ['Time', '+ms', 'Step', 'Detail'],
      timeline.entries.map((e) => h('tr', { 'data-step': e.step }, h('td', {}, time(e.at)), h('td', { class: 'num' }, `+${e.at - start}`), h('td', { class: 'step' }, e.step), h('td', {}, describeStep(e)))),
      { id: 'timeline-table' },
    ),
    timeline.dropped ? h('p', { class: 'warn' }, `${timeline.dropped} later step(s) not kept (HERALD_TIMELINE_MAX_ENTRIES); the counters above are exact.`) : null,
    h('h2', {}, 'Acks by platform'),
    table(['Platform', 'Clients that acked'], details.map(([p, ids]) => h('tr', { 'data-platform': p }, h('td', {}, p), h('td', { class: 'mono' }, ids.length ? ids.join('\n') : '—'))), { id: 'ack-table' }),
    report.truncated ? h('p', { class: 'muted' }, 'Lists cut at 1000 clients each.') : null,
  );
}

async function deadLettersPage() {
  const { list } = await api('GET', '/api/admin/webhooks/dead', { query: { count: 200 } });
  const rows = list.map((d) =>
    h(
      'tr',
      { 'data-job': d.jobId },
      h('td', {}, time(d.at)),
      h('td', {}, d.namespace),
      h('td', {}, d.kind),
      h('td', { class: 'mono' }, d.clientId),
      h('td', {}, d.reason),
      h('td', { class: 'num' }, d.attempts),
      h('td', {}, d.state),
      h('td', {}, d.state === 'failed'
        ? h('button', { class: 'secondary', 'data-action': 'replay', onclick: () => attempt(() => api('POST', '/api/admin/webhooks/dead/replay', { body: { jobId: d.jobId } }), 'webhook queued again').then(route) }, 'Replay')
        : ''),
    ),
  );
  return h('div', {}, h('h1', {}, 'Webhook dead letters'), h('p', { class: 'muted' }, 'Disconnect callbacks that failed for good (newest first). A replay queues the kept job again for a fresh round of attempts; jobs are kept a day.'), table(['Given up', 'Namespace', 'Kind', 'Client', 'Reason', 'Attempts', 'Job state', ''], rows, { id: 'dead-table' }));
}

async function legacyPage() {
  const picker = await namespacePicker(() => {});
  const result = h('div', { id: 'legacy-result' });
  const clear = async () => {
    const namespace = document.getElementById('namespace-picker').value;
    const removed = await attempt(() => api('POST', '/api/admin/clear-legacy-client', { body: { namespace } }), (r) => `${r.length} legacy client(s) removed from ${namespace}`);
    if (removed) result.replaceChildren(table(['Removed clientId'], removed.map((id) => h('tr', {}, h('td', { class: 'mono' }, id))), {}, 'no client was legacy'));
  };
  return h(
    'div',
    {},
    h('h1', {}, 'Clear legacy clients'),
    h('div', { class: 'card' },
      h('p', {}, 'Forgets the clients whose last connect is older than HERALD_LEGACY_CLIENT_HOURS: they leave every room, and their records and inboxes are deleted. The namespace must be switched offline first (Namespaces page).'),
      h('div', { class: 'row' }, picker.element, h('button', { class: 'danger', id: 'clear-legacy', onclick: clear }, 'Clear legacy clients')),
    ),
    result,
  );
}

// ---- routing

/** Shows `hash`'s page (rendered again when it is the current one), then `message` in the status line. */
function navigate(hash, message) {
  if (location.hash === hash) {
    status(message);
    route();
  } else {
    flash = message;
    location.hash = hash;
  }
}

function logout() {
  sessionStorage.removeItem(SESSION_KEY);
  navigate('#/login', '');
}

/** A page number from the address, 1 when absent or not a positive integer. */
function pageNumber(text) {
  return /^[1-9][0-9]{0,3}$/.test(text ?? '') ? Number(text) : 1;
}

async function route() {
  clearInterval(refreshTimer);
  const logged = credentials() !== null;
  document.getElementById('nav').hidden = !logged;
  document.getElementById('logout').hidden = !logged;
  const [, page = '', ...rest] = location.hash.split('/');
  const args = rest.map(decodeURIComponent);
  for (const link of document.querySelectorAll('#nav a')) link.classList.toggle('active', link.getAttribute('href') === `#/${page}`);
  if (!logged) return main.replaceChildren(loginPage());
  const pages = {
    namespaces: () => namespacesPage(pageNumber(args[0])),
    namespace: () => namespaceEditPage(args[0]),
    online: onlinePage,
    push: pushPage,
    reports: () => reportsPage(pageNumber(args[0])),
    report: () => reportPage(args[0], args[1]),
    'dead-letters': deadLettersPage,
    legacy: legacyPage,
  };
  const render = pages[page] ?? namespacesPage;
  try {
    const view = await render();
    main.replaceChildren(view);
    main.dataset.page = pages[page] ? page : 'namespaces';
  } catch (error) {
    main.replaceChildren(h('div', { class: 'card bad' }, error.message));
  }
}

document.getElementById('logout').addEventListener('click', logout);
window.addEventListener('hashchange', () => {
  status(flash ?? '');
  flash = undefined;
  route();
});
route();
