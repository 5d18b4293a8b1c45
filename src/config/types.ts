/** The service's validated configuration (see README "Configuration" for each variable). */
export interface Config {
  /** Which Telegram to talk to. 'sandbox' when TELEGRAM_API_ID/HASH are unset. */
  environment: 'sandbox' | 'production' | 'test';
  telegram: {
    apiId: number; // sandbox: a fixed placeholder the sandbox DC accepts
    apiHash: string;
  };
  sandbox: {
    /** Port of sandbox DC 1 when started in-process (DC 2 listens on port + 1). SANDBOX_DC_PORT, default 9443. */
    port: number;
    /**
     * Connections each in-process sandbox DC accepts at once (SANDBOX_DC_MAX_CONNECTIONS, default 64);
     * absent (a Config built by hand) = the default.
     */
    maxConnections?: number;
    /**
     * SANDBOX_DC_ADMIN_PORT: the in-process DC's admin HTTP endpoint (its controls: create users, accept QR
     * codes, deliver messages) on 127.0.0.1 at this port; absent = no endpoint.
     */
    adminPort?: number;
    /**
     * An already-running sandbox DC to use instead of starting one in-process (SANDBOX_DC=host:port of DC 2,
     * with SANDBOX_DC_PUBLIC_KEY_FILE naming its PKCS#1 public key). Tests use this to drive the DC's controls.
     */
    external?: { host: string; port: number; publicKeyPem: string };
  };
  dataDir: string; // DATA_DIR, default ./data (absolute after parsing)
  host: string; // HOST, default 127.0.0.1
  port: number; // PORT, default 8080
  /** METRICS_TOKEN: a token that reads GET /metrics and nothing else (the admin token reads it too). */
  metricsToken?: string;
  /**
   * HTTP_MAX_CONNECTIONS: connections the HTTP server holds at once (default 1024, or what the open-file
   * limit allows); at the cap, idle connections that never presented a valid token are closed first.
   * Absent (a Config built by hand) = the default.
   */
  httpMaxConnections?: number;
  /** HTTP_REQUEST_TIMEOUT in ms (default 60 s): a request not received in full by then is answered 408. Absent = the default. */
  httpRequestTimeoutMs?: number;
  /** API_TOKEN; when unset, generated once into DATA_DIR/api_token (0600). */
  apiToken: string;
  apiTokenSource: 'env' | 'file' | 'generated';
  /** SESSION_MAX_IDLE in ms, default 7d; 0 = never expires. */
  sessionMaxIdleMs: number;
  /** CLIENT_READY_TIMEOUT in ms, default 15s. */
  clientReadyTimeoutMs: number;
  /** RETRY_MAX_DELAY in ms, default 60s: the cap of the reconnect/validation backoff. */
  retryMaxDelayMs: number;
  /**
   * HEALTH_PROBE_INTERVAL in ms, default 30s; 0 = off: an authenticated session Telegram has not answered for
   * this long (no call, no pong) is asked (getMe), so status reflects an outage. Absent (a Config built by hand) = off.
   */
  healthProbeIntervalMs?: number;
  /**
   * QR_LOGIN_TIMEOUT in ms, default 10m; 0 = never: a QR login not scanned within this ends (status
   * `logged_out`, reason QR_LOGIN_EXPIRED) instead of asking Telegram for new codes forever. Absent = the default.
   */
  qrLoginTimeoutMs?: number;
  /** VALIDATION_CONCURRENCY, default 8: accounts validated at once after a start. Absent = the default. */
  validationConcurrency?: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
  logFile: string; // LOG_FILE, default DATA_DIR/telegram_service.log
  /** SESSION_ENCRYPTION_KEY (32 bytes, hex or base64) for AES-256-GCM encryption of session.json at rest. */
  sessionEncryptionKey?: Uint8Array;
  /**
   * LOGIN_RATE_LIMIT, default `10/1m`: requests per window on the login routes, per client address and
   * per account.
   * max 0 = no limit. Absent (a Config built by hand) = the default.
   */
  loginRateLimit?: { max: number; windowMs: number };
  /**
   * STORE, default `files`: where accounts live. `postgres` (with DATABASE_URL) makes this process one
   * instance of a cluster sharing the accounts. Absent (a Config built by hand) = files.
   */
  store?: { kind: 'files' } | { kind: 'postgres'; databaseUrl: string };
  /** INSTANCE_ID: this instance's name (logs, initConnection's device model, the cluster). Absent = the host name. */
  instanceId?: string;
  /** INSTANCE_URL: where other instances reach this one's HTTP API (cluster). Absent = derived from HOST and the port. */
  instanceUrl?: string;
  /** LEASE_TTL in ms, default 5s: how long an instance's lease on its accounts lasts without a heartbeat (cluster). */
  leaseTtlMs?: number;
  /** Events, delivery and the account API's Idempotency-Keys. Absent (a Config built by hand) = the defaults. */
  events?: EventsConfig;
}

/** See README "Events and webhooks" for each variable. */
export interface EventsConfig {
  /** EVENTS_MAX_SIZE (default 64MB): an account's journal drops its oldest events beyond this. */
  journalMaxBytes: number;
  /** EVENTS_MAX_AGE (default 7d; 0 = no age limit): and events older than this. */
  journalMaxAgeMs: number;
  /** SSE_HEARTBEAT (default 15s): a comment line on an idle event stream this often. */
  sseHeartbeatMs: number;
  /** SSE_SLOW_CLIENT_TIMEOUT (default 30s): a stream whose client does not read for this long is cut off. */
  sseSlowClientTimeoutMs: number;
  /** SSE_MAX_STREAMS (default 16): open event streams per account. */
  sseMaxStreams: number;
  /** WEBHOOK_TIMEOUT (default 10s): a delivery's whole exchange. */
  webhookTimeoutMs: number;
  /** WEBHOOK_RETRY_MAX (default 5m): the cap of the retry backoff. */
  webhookRetryMaxMs: number;
  /** WEBHOOK_ALLOWED_HOSTS (default none): hosts, IPs and CIDRs a scoped token may point a webhook at although not public. */
  webhookAllowedHosts: string[];
  /** IDEMPOTENCY_KEY_TTL (default 24h): how long an Idempotency-Key is remembered. */
  idempotencyTtlMs: number;
}
