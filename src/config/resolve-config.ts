/**
 * The configuration's file side effects, run after the data directory exists and is locked:
 * the API token (read or generated) and the external sandbox DC's public key.
 */
import fs from 'node:fs';
import type { Config } from './types.js';
import type { ParsedConfig } from './load-config.js';
import { resolveApiToken } from './api-token.js';
import { ConfigError } from './problems.js';

export interface ResolvedConfig {
  config: Config;
  /** Where the API token lives (undefined when it came from API_TOKEN). */
  apiTokenFile?: string;
  /** Warnings for the log (no secrets). */
  warnings: string[];
}

export function resolveConfig(parsed: ParsedConfig): ResolvedConfig {
  const problems: string[] = [];
  let external: Config['sandbox']['external'];
  if (parsed.sandbox.external) {
    const { host, port, publicKeyFile } = parsed.sandbox.external;
    try {
      const publicKeyPem = fs.readFileSync(publicKeyFile, 'utf8');
      if (!publicKeyPem.includes('-----BEGIN RSA PUBLIC KEY-----')) {
        problems.push(`SANDBOX_DC_PUBLIC_KEY_FILE=${publicKeyFile} is not a PEM "RSA PUBLIC KEY" (PKCS#1)`);
      }
      external = { host, port, publicKeyPem };
    } catch (err) {
      problems.push(`SANDBOX_DC_PUBLIC_KEY_FILE=${publicKeyFile} cannot be read: ${(err as Error).message}`);
    }
  }
  let token: ReturnType<typeof resolveApiToken> | undefined;
  try {
    token = resolveApiToken(parsed.dataDir, parsed.apiToken);
  } catch (err) {
    problems.push(`API token: ${(err as Error).message}`);
  }
  if (problems.length > 0 || !token) throw new ConfigError(problems);

  const { apiToken: _envToken, sandbox, ...rest } = parsed;
  const config: Config = {
    ...rest,
    sandbox: {
      port: sandbox.port,
      maxConnections: sandbox.maxConnections,
      ...(sandbox.adminPort !== undefined ? { adminPort: sandbox.adminPort } : {}),
      ...(external ? { external } : {}),
    },
    apiToken: token.token,
    apiTokenSource: token.source,
  };
  return { config, ...(token.file ? { apiTokenFile: token.file } : {}), warnings: token.warnings };
}
