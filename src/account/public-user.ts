import type { tl } from '@mtcute/core';
import { maskPhone } from '../logging/index.js';
import type { PublicUser } from './types.js';

/** Telegram's user object → the service's public shape (phone with a leading +). */
export function toPublicUser(user: tl.RawUser): PublicUser {
  const username = user.username ?? user.usernames?.find((u) => u.active)?.username ?? null;
  return {
    id: user.id,
    username,
    firstName: user.firstName ?? '',
    lastName: user.lastName ?? null,
    phone: user.phone ? `+${user.phone.replace(/^\+/, '')}` : null,
  };
}

export function withMaskedPhone(user: PublicUser): PublicUser {
  return { ...user, phone: user.phone ? maskPhone(user.phone) : null };
}
