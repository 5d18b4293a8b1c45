// telegram-service web console: the API token once (this tab's sessionStorage), the accounts and their
// state, creating one, logging in by phone → code → 2FA password or by QR code, live status, logging out,
// and a logged-in account's incoming events as they arrive.
// Plain DOM: text is only ever set as text (no HTML from data), so the page runs under a strict CSP
// with Trusted Types.
import { ApiError, createApi } from './api.js';
import { createEventList, MAX_ROWS } from './event-list.js';
import { watchEvents } from './events.js';

const TOKEN_KEY = 'telegram-service.token';
const ACCOUNT_KEY = 'telegram-service.account';
const STATUS_POLL_MS = 1500;
const LIST_POLL_MS = 5000;
const ACCOUNT_ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;

const STATE_TEXT = {
  logged_out: 'Logged out',
  code_sent: 'Waiting for the login code',
  qr_pending: 'Waiting for the QR code to be scanned',
  password_required: 'Waiting for the 2FA password',
  authenticated: 'Logged in',
  expired: 'Expired — log in again',
  revoked: 'Ended by Telegram — log in again',
};
const METHOD_TEXT = { code: 'a login code', qr: 'a QR code', future_auth_token: 'a kept token (no code asked)' };
const SECTIONS = ['token-section', 'scoped-section', 'accounts-section', 'account-section'];

const $ = (id) => document.getElementById(id);

let api = null;
let admin = false;
let current = null; // the account shown
let lastState = null;
let statusTimer = null;
let listTimer = null;
let expiryTimer = null;
let qr = { url: null, objectUrl: null, expiresAt: null };
let lastStatus = null; // the shown account's newest status
let eventList = null;
let watcher = null; // the shown account's event stream, while it runs
let eventsOf = null; // the account whose events the list holds
let lastEventId = 0; // the newest event in the list

// ───────────── errors ─────────────

function describe(err) {
  if (err instanceof ApiError) return err.code === 'NETWORK' ? err.message : `${err.message} (${err.code})`;
  return err && err.message ? err.message : String(err);
}

function showError(err) {
  const box = $('error');
  box.textContent = describe(err);
  box.hidden = false;
}

function clearError() {
  const box = $('error');
  box.hidden = true;
  box.textContent = '';
}

// ───────────── sections ─────────────

function show(section) {
  for (const id of SECTIONS) $(id).hidden = id !== section;
  $('forget').hidden = section === 'token-section';
}

function focusFirstField(container) {
  const field = container.querySelector('input, button');
  if (field) field.focus();
}

/** Runs an action with its button disabled; errors are shown in words. */
async function act(button, action) {
  clearError();
  if (button) button.disabled = true;
  try {
    await action();
  } catch (err) {
    showError(err);
  } finally {
    if (button) button.disabled = false;
  }
}

// ───────────── token ─────────────

async function useToken(token) {
  api = createApi(token);
  try {
    await loadAccounts();
    admin = true;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      forget();
      showError(new ApiError(401, err.code, 'This token was not accepted; check it and try again'));
      return;
    }
    if (!(err instanceof ApiError) || err.status !== 403) throw err;
    admin = false; // a token scoped to one account: it cannot list accounts
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  const remembered = sessionStorage.getItem(ACCOUNT_KEY);
  if (admin) listTimer = setInterval(() => void loadAccounts().catch(showError), LIST_POLL_MS);
  if (remembered) return openAccount(remembered);
  if (admin) {
    show('accounts-section');
  } else {
    show('scoped-section');
    focusFirstField($('scoped-section'));
  }
}

function forget() {
  stopTimers();
  resetEvents();
  clearInterval(listTimer);
  listTimer = null;
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(ACCOUNT_KEY);
  api = null;
  current = null;
  setQr(null);
  $('token-input').value = '';
  show('token-section');
  focusFirstField($('token-section'));
}

// ───────────── accounts ─────────────

async function loadAccounts() {
  const accounts = [];
  let cursor = null;
  do {
    const page = await api.get(`/api/accounts?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    accounts.push(...page.accounts);
    cursor = page.nextCursor;
  } while (cursor);
  const list = $('accounts');
  list.replaceChildren(
    ...accounts.map((account) => {
      const item = document.createElement('li');
      const button = document.createElement('button');
      button.type = 'button';
      const name = document.createElement('span');
      name.textContent = account.id;
      const state = document.createElement('span');
      state.className = `state ${account.state}`;
      state.textContent = STATE_TEXT[account.state] || account.state;
      button.append(name, state);
      button.addEventListener('click', () => void openAccount(account.id));
      item.append(button);
      return item;
    }),
  );
  $('accounts-empty').hidden = accounts.length > 0;
}

async function createAccount(id) {
  if (!ACCOUNT_ID.test(id)) throw new Error('An account id is 1 to 64 lowercase letters, digits, "-" or "_", starting with a letter or digit');
  await api.post('/api/accounts', { id });
  $('create-input').value = '';
  await loadAccounts();
  await openAccount(id);
}

// ───────────── one account ─────────────

const base = () => `/api/accounts/${encodeURIComponent(current)}`;

async function openAccount(id) {
  stopTimers();
  if (id !== eventsOf) resetEvents();
  current = id;
  lastState = null;
  lastStatus = null;
  sessionStorage.setItem(ACCOUNT_KEY, id);
  $('account-id').textContent = id;
  $('back').hidden = !admin;
  show('account-section');
  await refresh();
  statusTimer = setInterval(() => void refresh(), STATUS_POLL_MS);
}

function backToList() {
  stopTimers();
  resetEvents();
  current = null;
  sessionStorage.removeItem(ACCOUNT_KEY);
  setQr(null);
  show('accounts-section');
  void loadAccounts().catch(showError);
}

function stopTimers() {
  clearInterval(statusTimer);
  statusTimer = null;
}

async function refresh() {
  if (!current) return;
  const id = current;
  let status;
  try {
    status = await api.get(`${base()}/status`);
  } catch (err) {
    if (id !== current) return;
    showError(err);
    if (err instanceof ApiError && err.status === 404) {
      sessionStorage.removeItem(ACCOUNT_KEY);
      stopTimers();
    }
    return;
  }
  if (id !== current) return;
  lastStatus = status;
  render(status);
  syncEvents();
  if (status.state === 'qr_pending' && status.qr && status.qr.url !== qr.url) await loadQr();
}

function render(status) {
  const state = status.state;
  $('status-state').textContent = (STATE_TEXT[state] || state) + (status.reason ? ` (${status.reason})` : '');
  const user = status.user;
  $('status-user').textContent = user ? [user.firstName, user.lastName].filter(Boolean).join(' ') + (user.phone ? ` · ${user.phone}` : '') + ` · id ${user.id}` : '—';
  const session = status.session;
  $('status-connection').textContent = session.validation ? `${session.connection}, session ${session.validation}` : session.connection;
  const parts = [];
  if (session.loginMethod) parts.push(`logged in with ${METHOD_TEXT[session.loginMethod] || session.loginMethod}`);
  if (session.restored) parts.push('restored after a restart');
  if (session.expiresAt) parts.push(`expires ${new Date(session.expiresAt).toLocaleString()} without activity`);
  if (status.floodWaitUntil) parts.push(`Telegram asked to wait until ${new Date(status.floodWaitUntil).toLocaleTimeString()}`);
  if (status.persistenceError) parts.push(`cannot write ${status.persistenceError.file} (${status.persistenceError.code})`);
  $('status-session').textContent = parts.length ? parts.join('; ') : '—';

  const steps = {
    'step-start': state === 'logged_out' || state === 'expired' || state === 'revoked',
    'step-code': state === 'code_sent',
    'step-password': state === 'password_required',
    'step-qr': state === 'qr_pending',
    'step-done': state === 'authenticated',
  };
  for (const [id, visible] of Object.entries(steps)) $(id).hidden = !visible;
  if (state === 'password_required') $('password-hint').textContent = status.hint ? `Hint: ${status.hint}` : '';
  if (state === 'authenticated') $('done-info').textContent = user ? `Logged in as ${user.firstName || user.phone || user.id}.` : 'Logged in.';
  if (state !== 'qr_pending') setQr(null);

  const logout = $('logout');
  const loggingIn = state === 'code_sent' || state === 'qr_pending' || state === 'password_required';
  logout.hidden = !(loggingIn || state === 'authenticated' || state === 'expired');
  logout.textContent = loggingIn ? 'Cancel this login' : 'Log out';

  if (state !== lastState) {
    const visible = Object.keys(steps).find((id) => steps[id]);
    // A new step: keyboard and screen-reader users land on its first field (not on every poll).
    if (lastState !== null && visible) focusFirstField($(visible));
    lastState = state;
  }
}

// ───────────── incoming events ─────────────

/**
 * Watches the shown account's events while it is logged in and the page is visible; stops otherwise (a
 * hidden or closed page holds no stream open). The list stays for the account while it is paused, and a
 * stream that starts again resumes after the newest event in it.
 */
function syncEvents() {
  const loggedIn = lastStatus !== null && lastStatus.state === 'authenticated';
  $('events-section').hidden = !loggedIn;
  if (!loggedIn || document.visibilityState === 'hidden') return stopEvents();
  if (watcher) return;
  eventsOf = current;
  // A first look shows at most a list's worth of the newest events, not the whole journal.
  const journal = lastStatus.events;
  const after = journal ? Math.max(lastEventId, journal.firstId - 1, journal.lastId - MAX_ROWS) : lastEventId;
  watcher = watchEvents({
    api,
    path: `${base()}/events`,
    after,
    onEvent(event) {
      lastEventId = event.id;
      eventList.add(event);
    },
    onState: showEventsState,
    onReset() {
      eventList.clear();
      lastEventId = 0;
    },
  });
}

function stopEvents() {
  if (!watcher) return;
  watcher.stop();
  watcher = null;
  showEventsState({ state: 'paused' });
}

/** Another account, or none: its rows go. */
function resetEvents() {
  stopEvents();
  eventList.clear();
  eventsOf = null;
  lastEventId = 0;
  $('events-state').textContent = '';
}

function showEventsState({ state, error, retryInMs, notice }) {
  const line = $('events-state');
  line.classList.toggle('error', state === 'stopped');
  if (notice) line.textContent = notice;
  else if (state === 'connecting') line.textContent = 'Connecting to the event stream…';
  else if (state === 'live') line.textContent = 'Live: new events appear at the top.';
  else if (state === 'reconnecting') line.textContent = `${describe(error)} — reconnecting in ${Math.ceil(retryInMs / 1000)} s…`;
  else if (state === 'stopped') line.textContent = `Not watching events: ${describe(error)}`;
  else line.textContent = 'Paused while this page is hidden or the account is logged out.';
}

// ───────────── QR code ─────────────

async function loadQr() {
  try {
    setQr(await api.get(`${base()}/auth/qr`));
  } catch (err) {
    // Scanned or cancelled in between: the next status poll shows what happened.
    if (!(err instanceof ApiError) || err.code !== 'INVALID_STEP') showError(err);
  }
}

function setQr(code) {
  const image = $('qr-image');
  if (qr.objectUrl) URL.revokeObjectURL(qr.objectUrl);
  clearInterval(expiryTimer);
  if (!code) {
    qr = { url: null, objectUrl: null, expiresAt: null };
    image.removeAttribute('src');
    delete image.dataset.url;
    return;
  }
  const objectUrl = URL.createObjectURL(new Blob([code.svg], { type: 'image/svg+xml' }));
  qr = { url: code.url, objectUrl, expiresAt: Date.parse(code.expiresAt) };
  image.src = objectUrl;
  image.dataset.url = code.url;
  showExpiry();
  expiryTimer = setInterval(showExpiry, 1000);
}

function showExpiry() {
  const left = Math.round((qr.expiresAt - Date.now()) / 1000);
  $('qr-expiry').textContent = left > 0 ? `This code is valid for ${left} more seconds.` : 'Getting a new code…';
}

// ───────────── wiring ─────────────

function onSubmit(formId, inputId, action) {
  const form = $(formId);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const input = $(inputId);
    const value = input.value.trim();
    if (!value) {
      showError(new Error(`Please fill in “${form.querySelector(`label[for="${inputId}"]`).textContent}”`));
      input.focus();
      return;
    }
    void act(form.querySelector('button[type="submit"]'), () => action(value, input));
  });
}

function wire() {
  onSubmit('token-form', 'token-input', (token) => useToken(token));
  onSubmit('scoped-form', 'scoped-input', (id) => {
    if (!ACCOUNT_ID.test(id)) throw new Error('That is not an account id');
    return openAccount(id);
  });
  onSubmit('create-form', 'create-input', (id) => createAccount(id));
  onSubmit('phone-form', 'phone-input', async (phone) => {
    const answer = await api.post(`${base()}/auth/send-code`, { phone });
    if (answer.state === 'code_sent') {
      $('code-info').textContent = `A code was sent to ${answer.phone} (${answer.codeType}${answer.codeLength ? `, ${answer.codeLength} digits` : ''}).`;
    }
    await refresh();
  });
  // A code or a password is spent once sent: its field is emptied, whatever the answer.
  const verify = (route, field) => async (value, input) => {
    try {
      await api.post(`${base()}/auth/${route}`, { [field]: value });
    } finally {
      input.value = '';
    }
    await refresh();
  };
  onSubmit('code-form', 'code-input', verify('verify-code', 'code'));
  onSubmit('password-form', 'password-input', verify('verify-password', 'password'));
  $('qr-start').addEventListener('click', (event) =>
    void act(event.currentTarget, async () => {
      const answer = await api.post(`${base()}/auth/qr`);
      if (answer.state === 'qr_pending') setQr(answer);
      await refresh();
    }),
  );
  $('resend').addEventListener('click', (event) =>
    void act(event.currentTarget, async () => {
      const answer = await api.post(`${base()}/auth/resend-code`);
      $('code-info').textContent = `A new code was sent to ${answer.phone} (${answer.codeType}).`;
    }),
  );
  $('logout').addEventListener('click', (event) =>
    void act(event.currentTarget, async () => {
      await api.post(`${base()}/auth/logout`);
      await refresh();
    }),
  );
  $('back').addEventListener('click', backToList);
  $('forget').addEventListener('click', forget);
  eventList = createEventList($('events'));
  $('events-help').textContent = `Newest first; this page keeps the last ${MAX_ROWS}.`;
  // A hidden page (another tab, a locked phone) or one being left holds no stream open.
  document.addEventListener('visibilitychange', () => {
    if (current) syncEvents();
  });
  window.addEventListener('pagehide', stopEvents);
  window.addEventListener('pageshow', (event) => {
    if (event.persisted && current) syncEvents();
  });
}

wire();
const saved = sessionStorage.getItem(TOKEN_KEY);
if (saved) {
  void useToken(saved).catch((err) => {
    show('token-section');
    showError(err);
  });
} else {
  show('token-section');
  focusFirstField($('token-section'));
}
