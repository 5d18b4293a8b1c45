/** /api/telegram: every route marks API activity (account.touch) once the request passed auth and validation. */
import type { FastifyInstance } from 'fastify';
import type { AccountService } from '../../../account/types.js';
import type { LoginRateLimit } from '../../plugins/login-rate-limit.js';
import { loginRoutes } from './login.js';
import { logoutRoute } from './logout.js';
import { meRoute } from './me.js';
import { statusRoute } from './status.js';

export interface TelegramRoutesOptions {
  account: AccountService;
  loginRateLimit: LoginRateLimit;
}

export async function telegramRoutes(app: FastifyInstance, { account, loginRateLimit }: TelegramRoutesOptions): Promise<void> {
  app.addHook('preHandler', async (request) => {
    try {
      account.touch();
    } catch (err) {
      // Refreshing saved_at is best effort; it must never fail the request.
      request.log.warn({ err }, 'Could not record API activity');
    }
  });
  await app.register(loginRoutes, { prefix: '/auth', account, rateLimit: loginRateLimit });
  await app.register(logoutRoute, { prefix: '/auth', account });
  await app.register(meRoute, { account });
  await app.register(statusRoute, { account });
}
