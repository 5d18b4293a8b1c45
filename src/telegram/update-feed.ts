/** Feeds the updates an mtcute client dispatches into an account's journal, as events (message-json.ts). */
import type { TelegramClient } from '@mtcute/node';
import type { Logger } from 'pino';
import type { NewEvent } from '../events/types.js';
import { updateToEvent } from './message-json.js';
import { isBeforeLogin } from './login-horizon.js';
import { LOG_MESSAGES } from '../logging/messages.js';

export function feedUpdates(client: TelegramClient, journal: (event: NewEvent) => void, log: Logger): void {
  client.onRawUpdate.add((info) => {
    // mtcute awaits nothing here and applies the update's pts either way: this must never throw.
    try {
      // mtcute reads the user before it connects, so an update never comes before it is known.
      const self = client.storage.self.getCached(true);
      if (!self) throw new Error('an update before the logged-in user is known');
      if (isBeforeLogin(client, info.update)) return;
      const event = updateToEvent(info.update, self.userId);
      if (event) journal(event);
    } catch (err) {
      log.error({ err, update: info.update._ }, LOG_MESSAGES.updateNotAnEvent);
    }
  });
}
