/** The DC's account database: one set of users shared by both DCs. */
import Long from 'long';
import { randomBytes } from 'node:crypto';
import type { SrpPassword } from '../crypto/srp.js';
import { testNumberDigit } from './login-codes.js';

export interface Account {
  id: number;
  accessHash: Long;
  /** Digits only, no '+'. */
  phone: string;
  firstName: string;
  lastName?: string;
  /** Without '@'. */
  username?: string;
  /** DC id (1 or 2) that keeps the account; logins started elsewhere get PHONE_MIGRATE_<homeDc>. */
  homeDc: number;
  password?: { srp: SrpPassword; hint?: string };
  deactivated: boolean;
  createdAt: number;
}

export interface NewAccount {
  phone: string;
  firstName?: string;
  lastName?: string;
  username?: string;
  homeDc?: number;
  password?: { srp: SrpPassword; hint?: string };
}

export interface AccountsSnapshot {
  nextUserId: number;
  accounts: Account[];
}

export const DC_IDS = [1, 2] as const;
export const DEFAULT_HOME_DC = 2;
const FIRST_USER_ID = 700_000_001;

/** A problem with input to the account database (surfaced as a 400 rpc_error or a thrown control error). */
export class AccountInputError extends Error {
  constructor(readonly rpcMessage: string, detail: string) {
    super(detail);
  }
}

/** Strips '+', spaces, dashes and parentheses; returns undefined when what is left is not 5–15 digits. */
export function normalizePhone(input: string): string | undefined {
  const digits = String(input).replace(/[\s\-()+]/g, '');
  return /^\d{5,15}$/.test(digits) ? digits : undefined;
}

/**
 * The DC an account lives on: its home DC, or for a number without an account, where it would be
 * created — a test number `99966XYYYY` on DC X when X is 1 or 2, everything else on DC 2.
 */
export function homeDcOf(phone: string, account: Account | undefined): number {
  if (account) return account.homeDc;
  const digit = testNumberDigit(phone);
  return digit !== undefined && (DC_IDS as readonly number[]).includes(digit) ? digit : DEFAULT_HOME_DC;
}

const USERNAME_RE = /^[a-zA-Z][a-zA-Z0-9_]{3,31}$/;

export class AccountStore {
  private readonly byIdMap = new Map<number, Account>();
  private readonly byPhoneMap = new Map<string, Account>();
  private readonly byUsernameMap = new Map<string, Account>();
  private nextUserId = FIRST_USER_ID;

  constructor(private readonly onChange: () => void = () => {}) {}

  create(input: NewAccount): Account {
    const phone = normalizePhone(input.phone);
    if (!phone) throw new AccountInputError('PHONE_NUMBER_INVALID', `invalid phone number`);
    if (this.byPhoneMap.has(phone)) throw new AccountInputError('PHONE_NUMBER_OCCUPIED', `an account with this phone exists`);
    const username = input.username?.replace(/^@/, '');
    if (username !== undefined) {
      if (!USERNAME_RE.test(username)) throw new AccountInputError('USERNAME_INVALID', `invalid username: ${username}`);
      if (this.byUsernameMap.has(username.toLowerCase())) {
        throw new AccountInputError('USERNAME_OCCUPIED', `username taken: ${username}`);
      }
    }
    const homeDc = input.homeDc ?? DEFAULT_HOME_DC;
    if (!(DC_IDS as readonly number[]).includes(homeDc)) {
      throw new AccountInputError('DC_ID_INVALID', `homeDc must be 1 or 2, got ${homeDc}`);
    }
    const account: Account = {
      id: this.nextUserId++,
      accessHash: Long.fromBytesBE([...randomBytes(8)]),
      phone,
      firstName: input.firstName?.trim() || `User ${phone.slice(-4)}`,
      lastName: input.lastName?.trim() || undefined,
      username,
      homeDc,
      password: input.password,
      deactivated: false,
      createdAt: Date.now(),
    };
    this.index(account);
    this.onChange();
    return account;
  }

  byId(id: number): Account | undefined {
    return this.byIdMap.get(id);
  }

  byPhone(phone: string): Account | undefined {
    const normalized = normalizePhone(phone);
    return normalized ? this.byPhoneMap.get(normalized) : undefined;
  }

  byUsername(username: string): Account | undefined {
    return this.byUsernameMap.get(username.replace(/^@/, '').toLowerCase());
  }

  all(): Account[] {
    return [...this.byIdMap.values()];
  }

  update(id: number, change: Partial<Pick<Account, 'firstName' | 'lastName' | 'deactivated' | 'password'>>): Account {
    const account = this.byIdMap.get(id);
    if (!account) throw new AccountInputError('USER_ID_INVALID', `no user ${id}`);
    Object.assign(account, change);
    this.onChange();
    return account;
  }

  snapshot(): AccountsSnapshot {
    return { nextUserId: this.nextUserId, accounts: this.all() };
  }

  restore(snapshot: AccountsSnapshot): void {
    this.byIdMap.clear();
    this.byPhoneMap.clear();
    this.byUsernameMap.clear();
    for (const account of snapshot.accounts) this.index(account);
    this.nextUserId = Math.max(snapshot.nextUserId, FIRST_USER_ID);
  }

  private index(account: Account): void {
    this.byIdMap.set(account.id, account);
    this.byPhoneMap.set(account.phone, account);
    if (account.username) this.byUsernameMap.set(account.username.toLowerCase(), account);
  }
}
