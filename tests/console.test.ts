/**
 * The admin console in a real headless Chromium (Debian's `chromium`, driven by playwright-core) on
 * a real stack: logic, a connector and a worker as processes, stock socket.io clients. An operator
 * logs in, creates a namespace with every kind of setting, watches clients come online, pushes from
 * the form, reads that message's timeline with the acks, the offline step and the APNs outcome (the
 * APNs mock) on it, replays a
 * webhook dead letter, takes the namespace offline and clears its legacy clients — every page.
 *
 * With HERALD_SCREENSHOTS=1 it writes docs/img/console-<page>.png (shown in docs/console.md).
 */
import { mkdirSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startApnsMock, startService, until, type ApnsMock, type ServiceProcess } from '@herald/test-support';
import { chromium, type Browser, type Page } from 'playwright-core';
import { connectClient, emitWithAck, type Recorded } from './support/clients';
import { ADMIN, ADMIN_PASSWORD, startStack, type Stack } from './support/stack';

const CHROMIUM = process.env['HERALD_CHROMIUM'] ?? '/usr/bin/chromium';
const SCREENSHOTS = process.env['HERALD_SCREENSHOTS'] === '1';
const IMG_DIR = join(__dirname, '..', 'docs', 'img');
const NSP = '/shop';
const TOPIC = 'com.example.shop';
/** Carol's iPhone: she does not ack, so the offline step wakes it through APNs (the mock). */
const CAROL_TOKEN = randomBytes(32).toString('hex');

let stack: Stack;
let worker: ServiceProcess;
let apnsMock: ApnsMock;
let browser: Browser;
let page: Page;
/** The namespace's disconnect callback: refuses every call (400), so each one is a dead letter. */
let receiver: Server;
const received: string[] = [];
const clients: Recorded[] = [];
let messageId: number;

const consoleUrl = () => `http://127.0.0.1:${stack.logic.port}/push-admin/`;

async function shot(name: string): Promise<void> {
  if (!SCREENSHOTS) return;
  mkdirSync(IMG_DIR, { recursive: true });
  await page.screenshot({ path: join(IMG_DIR, `console-${name}.png`) });
}

/** Goes to a console page by its link and waits until it rendered. */
async function open(hash: string, page_: string): Promise<void> {
  await page.click(`#nav a[href="${hash}"]`);
  await page.waitForSelector(`main[data-page="${page_}"]`);
}

/** A client of the namespace on the connector that joins `news` and, unless told not to, acks every push. */
async function client(userid: string, platform: string, uuid: string, acks = true): Promise<Recorded> {
  const c = await connectClient(stack.connectors[0]!.port, NSP, { uuid, userid, platform });
  clients.push(c);
  expect(await emitWithAck(c.socket, 'joinRoom', 'news')).toEqual({ status: 200, msg: 'ok' });
  if (acks) c.socket.on('push', (message) => c.socket.emit('ackPush', { id: message.id }));
  return c;
}

// Starting five processes and a browser on a loaded two-core machine takes longer than one test.
beforeAll(async () => {
  receiver = createServer((request, response) => {
    received.push(request.url ?? '');
    request.resume();
    response.writeHead(400).end('refused');
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  apnsMock = await startApnsMock({ topics: [TOPIC] });
  stack = await startStack({ connectors: 1, env: { HERALD_OFFLINE_DELAY_MS: '300' } });
  worker = await startService('worker', {
    env: { ...stack.env, HERALD_APNS_HOST: '127.0.0.1', HERALD_APNS_PORT: String(apnsMock.port), HERALD_APNS_CA: apnsMock.caFile },
  });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  // Nothing the console loads may come from anywhere but logic.
  await page.route('**/*', (route) => (route.request().url().startsWith(`http://127.0.0.1:${stack.logic.port}/`) ? route.continue() : route.abort()));
}, 90_000);

afterAll(async () => {
  for (const c of clients) c.socket.close();
  await browser?.close();
  const codes = [await worker?.stop(), ...((await stack?.stop()) ?? [])];
  await new Promise((resolve) => receiver?.close(resolve));
  await apnsMock?.close();
  expect(codes).toEqual([0, 0, 0]);
});

test('login: a wrong password is refused; the admin password opens the console', async () => {
  await page.goto(consoleUrl());
  await page.waitForSelector('#login-password');
  await shot('login');
  await page.fill('#login-password', 'not-the-password');
  await page.click('#login-submit');
  await page.waitForSelector('#status.error');
  expect(await page.textContent('#status')).toBe('auth error (AUTH_ERROR)');
  await page.fill('#login-password', ADMIN_PASSWORD);
  await page.click('#login-submit');
  await page.waitForSelector('main[data-page="namespaces"]');
  // The password is in the session only, never in the address.
  expect(page.url()).not.toContain(ADMIN_PASSWORD);
  expect(JSON.parse((await page.evaluate('sessionStorage.getItem("herald-admin")')) as string)).toEqual({ user: 'admin', password: ADMIN_PASSWORD });
});

test('namespaces: create one with its callbacks, inbox platforms and an APNs configuration; secrets stay write-only', async () => {
  await page.click('#new-namespace');
  await page.waitForSelector('#namespace-form');
  await page.fill('#ns-key', NSP);
  await page.fill('#ns-name', 'Shop app');
  await page.fill('#ns-password', 'shop-pw');
  await page.fill('#ns-disconnect', `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/disconnect`);
  await page.fill('#ns-callback-auth', 'callback-secret');
  await page.check('input[data-platform="ios"]');
  await page.click('#add-apns');
  const apns = '#apns-list .apns:last-child';
  await page.fill(`${apns} [data-field="name"]`, 'shop-ios');
  await page.selectOption(`${apns} [data-field="apns_env"]`, 'production');
  await page.fill(`${apns} [data-field="apns_topic"]`, 'com.example.draft');
  const key = apnsMock.providerKey!;
  await page.fill(`${apns} [data-field="token_keyId"]`, key.keyId);
  await page.fill(`${apns} [data-field="token_teamId"]`, key.teamId);
  await page.fill(`${apns} [data-field="token_key"]`, key.key);
  await page.click('#save-namespace');
  await page.waitForSelector('#ns-key[disabled]');
  expect(await page.textContent('#status')).toBe(`saved ${NSP}`);

  const { body } = await stack.api(`/api/admin/namespace/list?key=${encodeURIComponent(NSP)}`, { auth: ADMIN });
  expect(body.list).toEqual([
    expect.objectContaining({
      key: NSP,
      name: 'Shop app',
      offline: 'off',
      auth_passwd: true,
      callback_auth: true,
      inbox_platforms: ['android', 'ios'],
      apns_list: [{ name: 'shop-ios', apns_env: 'production', apns_topic: 'com.example.draft', token_keyId: apnsMock.providerKey!.keyId, token_teamId: apnsMock.providerKey!.teamId, token_key: true }],
    }),
  ]);
  // The edit page tells that the key is set and never shows it.
  expect(await page.textContent('#apns-list')).toContain('token_key (set)');
  expect(await page.inputValue(`${apns} [data-field="token_key"]`)).toBe('');
  const keyBody = key.key.split('\n')[1]!;
  expect(keyBody.length).toBeGreaterThan(20);
  expect(await page.content()).not.toContain(keyBody);
  await shot('namespace-edit');

  // An edit keeps what it does not name: the topic changes, the key stays set.
  await page.fill(`${apns} [data-field="apns_topic"]`, TOPIC);
  await page.click('#save-namespace');
  await until(async () => {
    const { body: after } = await stack.api(`/api/admin/namespace/list?key=${encodeURIComponent(NSP)}`, { auth: ADMIN });
    return after.list[0].apns_list[0].apns_topic === TOPIC ? after : undefined;
  }).then((after) => expect(after.list[0].apns_list[0]).toMatchObject({ token_key: true, token_keyId: key.keyId }));
  // The tenant's new password works.
  expect((await stack.api('/api/auth/login', { auth: 'Basic ' + Buffer.from(`${NSP}:shop-pw`).toString('base64'), method: 'POST' })).status).toBe(200);

  await open('#/namespaces', 'namespaces');
  await page.waitForSelector(`tr[data-namespace="${NSP}"]`);
  expect(await page.textContent(`tr[data-namespace="${NSP}"]`)).toContain('Shop app');
});

test('online: the figures follow clients as they connect (live refresh), by platform and room', async () => {
  await client('alice', 'web', 'a1');
  await client('bob', 'android', 'b1');
  await open('#/online', 'online');
  await page.selectOption('#namespace-picker', NSP);
  const figure = (name: string) => page.textContent(`[data-figure="${name}"]`);
  await page.waitForSelector('[data-figure="clientCount"]:text-is("2")');
  // A third client shows up without leaving the page.
  const carol = await client('carol', 'ios', 'c1', false);
  await new Promise((resolve) => carol.socket.emit('info', { device_token: CAROL_TOKEN }, resolve));
  await page.waitForSelector('[data-figure="clientCount"]:text-is("3")');
  expect([await figure('platform-web'), await figure('platform-android'), await figure('platform-ios'), await figure('userCount')]).toEqual(['1', '1', '1', '3']);
  // Carol joins `news` after her client is counted: the table shows her at its next refresh.
  const newsRow = () => page.$$eval('#rooms-table tr[data-room="news"] td', (cells) => cells.map((c) => c.textContent));
  const expected = ['news', '3', '3', '1', '1', '1', '3'];
  // What the page renders, as the API answers it: a mismatch below is then the page's, not the data's.
  const apiRow = async () => {
    const { body } = await stack.api(`/api/admin/namespace/online?namespace=${encodeURIComponent(NSP)}`, { auth: ADMIN });
    const r = (body.rooms as Record<string, unknown>[]).find((room) => room['name'] === 'news');
    return r ? ['news', ...['userCount', 'clientCount', 'webClientCount', 'androidClientCount', 'iosClientCount', 'totalClientCount'].map((k) => String(r[k]))] : undefined;
  };
  await until(async () => (JSON.stringify(await apiRow()) === JSON.stringify(expected) ? true : undefined), 15_000).catch(() => undefined);
  expect(await apiRow()).toEqual(expected);
  // Polled from here: the console's CSP (script-src 'self') refuses the string predicates of
  // page.waitForFunction, which then fail at once instead of waiting.
  await until(async () => (JSON.stringify(await newsRow()) === JSON.stringify(expected) ? true : undefined), 15_000).catch(() => undefined);
  expect(await newsRow()).toEqual(expected);
  await shot('online');
});

test('push form → the message reaches the clients; its report and timeline show the acks and the offline step', async () => {
  const pushes = clients.map((c) => new Promise<{ id: number; pushData: unknown }>((resolve) => c.socket.once('push', resolve)));
  await open('#/push', 'push');
  await page.selectOption('#namespace-picker', NSP);
  await page.fill('#push-room', 'news');
  await page.fill('#push-data', '{"title":"Spring sale","body":"20% off today"}');
  await page.check('#push-leave');
  await page.fill('#push-apns', 'shop-ios');
  await page.click('#push-send');
  await page.waitForSelector('[data-message-id]');
  messageId = Number(await page.textContent('[data-message-id]'));
  const got = await Promise.all(pushes);
  expect(got.map((m) => [m.id, m.pushData])).toEqual(Array(3).fill([messageId, { title: 'Spring sale', body: '20% off today' }]));
  await shot('push');

  // Two clients ack; carol does not, so the offline step keeps it in her inbox (ios is an inbox
  // platform here) and wakes her iPhone through APNs.
  await until(async () => {
    const { body } = await stack.api(`/api/admin/report/push/${messageId}?namespace=${encodeURIComponent(NSP)}`, { auth: ADMIN });
    return body.ackCount === 2 && body.offline !== null && body.apnsCount === 1 ? body : undefined;
  }, 15_000);
  expect(apnsMock.requests.filter((r) => r.token === CAROL_TOKEN).map((r) => r.status)).toEqual([200]);

  await page.click('#push-timeline-link');
  await page.waitForSelector('#timeline-table tr[data-step="apns"]');
  const rows = await page.$$eval('#timeline-table tbody tr', (trs) => trs.map((tr) => ({ step: tr.getAttribute('data-step'), text: tr.lastElementChild?.textContent })));
  expect(rows.map((r) => r.step).sort()).toEqual(['accepted', 'acked', 'acked', 'apns', 'delivered', 'offline']);
  expect(rows[0]).toEqual({ step: 'accepted', text: 'pushed to room news by admin' });
  expect(rows.find((r) => r.step === 'delivered')!.text).toMatch(/^written to 3 socket\(s\) by connector \S+$/);
  expect(rows.filter((r) => r.step === 'acked').map((r) => r.text).sort()).toEqual(['acked by /shop#alice#web-a1 (web)', 'acked by /shop#bob#android-b1 (android)']);
  expect(rows.find((r) => r.step === 'offline')!.text).toBe('offline step: 1 inbox entry, 1 iOS device(s) for APNs');
  // APNs' answer for carol's device; the token is a secret, shown by its last 4 characters only.
  expect(rows.find((r) => r.step === 'apns')!.text).toBe(`APNs ok for /shop#carol#ios-c1 (token …${CAROL_TOKEN.slice(-4)})`);
  expect(await page.content()).not.toContain(CAROL_TOKEN);
  // The steps are in time order: the acks after the delivery, then the offline step and APNs.
  expect(rows.map((r) => r.step).slice(4)).toEqual(['offline', 'apns']);
  expect(await page.textContent('#ack-table tr[data-platform="web"]')).toContain('/shop#alice#web-a1');
  expect(await page.textContent('#ack-table tr[data-platform="android"]')).toContain('/shop#bob#android-b1');
  expect(await page.textContent('[data-figure="ackCount"]')).toBe('2');
  await shot('report');

  await open('#/reports', 'reports');
  await page.waitForSelector(`#report-table tr[data-report="${messageId}"]`);
  expect(await page.$$eval(`#report-table tr[data-report="${messageId}"] td`, (cells) => cells.map((c) => c.textContent))).toEqual([
    String(messageId), expect.any(String), 'news', '{"title":"Spring sale","body":"20% off today"}', '3', '2', 'inbox:1 apns:1', 'apnsEnv:production sent:1 failed:0',
  ]);
  await shot('reports');
});

test('reports page through the history, 50 a page', async () => {
  for (let i = 0; i < 50; i++) {
    const pushed = await stack.api(`/api/admin/push?namespace=${encodeURIComponent(NSP)}`, { auth: ADMIN, body: { room: 'quiet', pushData: { i } } });
    expect(pushed.status).toBe(200);
  }
  await page.goto(`${consoleUrl()}#/reports/1`);
  await page.waitForSelector(`#report-table tr[data-report="${messageId + 50}"]`);
  const ids = () => page.$$eval('#report-table tr[data-report]', (trs) => trs.map((tr) => Number(tr.getAttribute('data-report'))));
  expect(await ids()).toEqual(Array.from({ length: 50 }, (_, i) => messageId + 50 - i));
  await page.click('[data-pager="next"]');
  await page.waitForSelector(`#report-table tr[data-report="${messageId}"]`);
  expect(await ids()).toEqual([messageId]);
  expect(await page.$('[data-pager="next"]')).toBeNull();
});

test('dead letters: a refused disconnect callback is listed; Replay sends it again', async () => {
  const carol = clients[2]!;
  carol.socket.close();
  await until(async () => ((await stack.api('/api/admin/webhooks/dead', { auth: ADMIN })).body.list.length === 1 ? true : undefined), 15_000);
  expect(received).toEqual(['/disconnect']);
  await open('#/dead-letters', 'dead-letters');
  await page.waitForSelector('#dead-table tr[data-job]');
  expect(await page.$$eval('#dead-table tr[data-job] td', (cells) => cells.slice(1, 7).map((c) => c.textContent))).toEqual([
    NSP, 'disconnect', '/shop#carol#ios-c1', 'HTTP 400', '1', 'failed',
  ]);
  await shot('dead-letters');
  await page.click('#dead-table [data-action="replay"]');
  await page.waitForSelector('#status:text-is("webhook queued again")');
  // The worker really sent it once more (and the receiver refused it again).
  await until(async () => (received.length === 2 ? true : undefined), 15_000);
  expect(received).toEqual(['/disconnect', '/disconnect']);
});

test('legacy clients: refused while the namespace is online; cleared once it is switched offline', async () => {
  await open('#/legacy', 'legacy');
  await page.selectOption('#namespace-picker', NSP);
  await page.click('#clear-legacy');
  await page.waitForSelector('#status.error');
  expect(await page.textContent('#status')).toBe('namespace must be set offline on (NAMESPACE_MUST_BE_OFFLINE)');

  await open('#/namespaces', 'namespaces');
  await page.waitForSelector(`tr[data-namespace="${NSP}"] .pill:text-is("online")`);
  await shot('namespaces');
  await page.click(`tr[data-namespace="${NSP}"] [data-action="toggle-offline"]`);
  await page.waitForSelector(`tr[data-namespace="${NSP}"] .pill:text-is("offline")`);
  expect(await page.textContent('#status')).toBe(`${NSP} switched offline on`);
  await open('#/legacy', 'legacy');
  await page.selectOption('#namespace-picker', NSP);
  await page.click('#clear-legacy');
  await page.waitForSelector('#status:has-text("legacy client(s) removed")');
  // Every client connected within HERALD_LEGACY_CLIENT_HOURS: none is legacy.
  expect(await page.textContent('#status')).toBe(`0 legacy client(s) removed from ${NSP}`);
  await shot('legacy');
});

test('behind a proxy path prefix (deploy/nginx serves logic under /push-logic/) the console works the same', async () => {
  // A prefix-stripping proxy, as nginx's `location /push-logic/ { proxy_pass http://logic/; }`.
  const proxy = createServer((request, response) => {
    const url = request.url ?? '/';
    // Like nginx here, nothing outside the prefix reaches logic.
    if (!url.startsWith('/push-logic/')) return void response.writeHead(404).end();
    const path = url.slice('/push-logic'.length);
    const upstream = httpRequest({ host: '127.0.0.1', port: stack.logic.port, method: request.method, path, headers: request.headers }, (answer) => {
      response.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(response);
    });
    request.pipe(upstream);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  const behind = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  try {
    await behind.route('**/*', (route) => (route.request().url().startsWith(`${origin}/`) ? route.continue() : route.abort()));
    // The address without its slash lands on the console too.
    await behind.goto(`${origin}/push-logic/push-admin`);
    expect(behind.url()).toBe(`${origin}/push-logic/push-admin/`);
    await behind.fill('#login-password', ADMIN_PASSWORD);
    await behind.click('#login-submit');
    await behind.waitForSelector(`tr[data-namespace="${NSP}"]`);
  } finally {
    await behind.close();
    proxy.closeAllConnections();
    await new Promise((resolve) => proxy.close(resolve));
  }
});

test('log out forgets the password', async () => {
  await page.click('#logout');
  await page.waitForSelector('#login-password');
  expect(await page.evaluate('sessionStorage.getItem("herald-admin")')).toBeNull();
});
