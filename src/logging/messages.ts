/**
 * The log messages that people (README, Troubleshooting) and tests look for, word for word. The log
 * call sites write these; tests import them instead of copying the text, so a reworded line cannot leave
 * a test waiting for (or asserting the absence of) a message that no longer exists. A message with parts
 * that vary is a function of those parts. Changing any text here changes what users grep for: update the
 * README with it.
 */
export const LOG_MESSAGES = {
  // The seed's four lines.
  sessionRestored: 'Session restored successfully from persistent state',
  recoveryAttempt: 'Attempting session recovery',
  recoverySucceeded: 'Session recovery successful',
  recoveryFailed: 'Session recovery failed, clearing auth state',

  // One account's life.
  accountState: (state: string) => `Account state: ${state}`,
  authStateWithoutSession: 'auth_state.json found without session.json; removing it',
  authStateTooOld: 'Auth state older than SESSION_MAX_IDLE; log in again',
  sessionOfAnotherEnvironment: 'session.json belongs to another environment; starting logged out',
  savedAtInFuture: 'auth_state.json saved_at is in the future; counting inactivity from now',
  sessionExpired: 'Session expired: no API activity for SESSION_MAX_IDLE; log in again',
  telegramUnreachable: 'Telegram unreachable; session kept, retrying with backoff',
  connectionRestored: 'Connection to Telegram restored',
  /** What the account's reconnect backoff is retrying (see `retrying`). */
  telegramConnection: 'Telegram connection',
  retrying: (what: string, attempt: number, delayMs: number) => `Retrying ${what} (attempt ${attempt}) in ${delayMs} ms`,
  sessionRevoked: 'Telegram revoked the session; clearing the dead key and auth state',
  floodWait: 'Telegram asked to wait (FLOOD_WAIT); the deadline is kept on disk',
  loginStepWentThrough: 'A login step that got no answer had gone through at Telegram; login completed',
  qrCodeReady: 'QR login code ready; waiting for it to be scanned',
  qrCodeRenewed: 'New QR login code',
  qrScanned: 'QR login code scanned',
  qrLoggedIn: 'Logged in by QR code',
  /** `why` says how it ended (not scanned in time, a refusal). */
  qrEnded: (why: string) => `QR login ended: ${why}`,
  qrRestored: 'QR login in progress restored from disk; fetching a new QR code',
  qrPasswordRestored: 'QR login waiting for the 2FA password restored from disk',
  futureTokenLogin: 'Logged in without a code: Telegram honoured a kept future auth token',
  futureTokensRefused: 'Telegram refused the login with the kept future auth tokens; dropped them and sent a code',
  futureTokensNotWritten: 'Could not write the future auth tokens; kept in memory',
  logoutAtTelegramFailed:
    'Could not log out at Telegram; removing the local session anyway (the authorization may stay listed in Active sessions)',

  // An account's files.
  sessionFromBackup: 'session.json restored from the last-known-good copy (session.json.bak)',
  noUsableSession: 'no usable session.json or good copy; starting without a session',
  /** `detail` says what is wrong with the file; `movedTo` is the base name it was moved aside to. */
  movedAside: (detail: string, movedTo: string) => `${detail}; moved aside to ${movedTo}`,
  tempFilesRemoved: 'removed temp files of an interrupted write',
  replacedStorageWrite: 'ignored a session write from a replaced mtcute storage',
  /** `file` is a base name; `how` says whether it `was removed` or `was replaced`. */
  fileLostWhileRunning: (file: string, how: 'was removed' | 'was replaced') =>
    `${file} ${how} while the service was running; writing it back from memory`,
  writeFailed: (file: string, code: string) => `writing ${file} failed (${code}); serving from memory and retrying`,
  writableAgain: 'data directory writable again; pending data written',
  singleAccountLayoutMoved: (account: string) => `Single-account data directory moved to accounts/${account}/`,

  // Events, webhooks, the account API.
  duplicateUpdateDropped: 'Duplicate update dropped before the journal',
  journalWriteFailed: 'Event journal write failed; retrying',
  journalWritableAgain: 'Event journal writable again; waiting events written',
  journalOverflow: 'Event journal cannot keep up (its writes fail); updates will be fetched again from the last journaled state once it can',
  journalResync: 'Event journal writable again; fetching the updates it could not keep from the last journaled state',
  journalTornWriteCut: 'event journal: cut off a write interrupted by a crash',
  journalUnavailable: 'The event journal cannot be opened; the account runs without events until it can (restart after fixing it)',
  updateNotAnEvent: 'An update could not be turned into an event',
  webhookDeliveryFailed: 'Webhook delivery failed; retrying',
  webhookReachableAgain: 'Webhook receiver reachable again',
  webhookEventsExpired: 'Webhook: events expired before delivery',
  streamCutOff: 'Event stream cut off: its client did not read (it resumes with Last-Event-ID)',

  // The process.
  starting: 'telegram-service starting',
  sandboxBanner: 'SANDBOX MODE',
  listening: 'HTTP API listening',
  started: 'telegram-service started',
  stopping: 'Shutting down',
  stopped: 'telegram-service stopped',
  lockLost: 'Data directory lock lost',
  clusterJoined: 'Joined the cluster',
  httpRequest: 'HTTP request',
  apiTokenGenerated: (file: string) => `API token generated into ${file} (mode 0600)`,
  apiTokenRead: (file: string) => `API token read from ${file}`,
  startupFailed: (message: string) => `Start-up failed: ${message}`,
  uncaughtException: 'Uncaught exception; shutting down',
  unhandledRejection: 'Unhandled promise rejection',
} as const;
