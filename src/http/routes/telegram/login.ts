/** The login steps: send-code, resend-code, verify-code, verify-password (rate-limited together). */
import type { FastifyInstance } from 'fastify';
import type { AccountService } from '../../../account/types.js';
import { normalizeCode, normalizePhone } from '../../input.js';
import { applyLoginRateLimit, type LoginRateLimit } from '../../plugins/login-rate-limit.js';
import {
  apiResponses,
  CODE_SENT_SCHEMA,
  SEND_CODE_BODY,
  VERIFY_CODE_BODY,
  VERIFY_CODE_RESULT_SCHEMA,
  VERIFY_PASSWORD_BODY,
} from '../../schemas.js';

export interface LoginRoutesOptions {
  account: AccountService;
  rateLimit: LoginRateLimit;
}

export async function loginRoutes(app: FastifyInstance, { account, rateLimit }: LoginRoutesOptions): Promise<void> {
  await applyLoginRateLimit(app, rateLimit);

  app.post<{ Body: { phone: string } }>(
    '/send-code',
    { schema: { body: SEND_CODE_BODY, response: apiResponses(CODE_SENT_SCHEMA) } },
    async (request) => account.sendCode(normalizePhone(request.body.phone)),
  );

  app.post('/resend-code', { schema: { response: apiResponses(CODE_SENT_SCHEMA) } }, async () => account.resendCode());

  app.post<{ Body: { code: string } }>(
    '/verify-code',
    { schema: { body: VERIFY_CODE_BODY, response: apiResponses(VERIFY_CODE_RESULT_SCHEMA) } },
    async (request) => account.verifyCode(normalizeCode(request.body.code)),
  );

  app.post<{ Body: { password: string } }>(
    '/verify-password',
    { schema: { body: VERIFY_PASSWORD_BODY, response: apiResponses(VERIFY_CODE_RESULT_SCHEMA) } },
    async (request) => account.verifyPassword(request.body.password),
  );
}
