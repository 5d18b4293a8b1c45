/** Thrown when the configuration is invalid: one human-readable line per problem, all of them at once. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Exit code for an invalid configuration (a usage error, like a bad command line). */
export const CONFIG_ERROR_EXIT_CODE = 2;
