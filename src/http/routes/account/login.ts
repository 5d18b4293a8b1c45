/** The login steps: send-code, resend-code, verify-code, verify-password (counted by the login rate limit). */
import type { FastifyInstance } from 'fastify';
import { normalizeCode, normalizePhone } from '../../input.js';
import {
  apiResponses,
  CODE_SENT_SCHEMA,
  SEND_CODE_BODY,
  VERIFY_CODE_BODY,
  VERIFY_CODE_RESULT_SCHEMA,
  VERIFY_PASSWORD_BODY,
} from '../../schemas.js';
import { accountOf } from './index.js';

const loginStep = { loginStep: true };

export async function loginRoutes(app: FastifyInstance): Promise<void> {
  app.post<{ Body: { phone: string } }>(
    '/send-code',
    { config: loginStep, schema: { summary: 'Log in, step 1: send a login code to the phone', body: SEND_CODE_BODY, response: apiResponses(CODE_SENT_SCHEMA) } },
    async (request) => accountOf(request).sendCode(normalizePhone(request.body.phone)),
  );

  app.post('/resend-code', { config: loginStep, schema: { summary: 'Send the login code again, by the next delivery type', response: apiResponses(CODE_SENT_SCHEMA) } }, async (request) =>
    accountOf(request).resendCode(),
  );

  app.post<{ Body: { code: string } }>(
    '/verify-code',
    { config: loginStep, schema: { summary: 'Log in, step 2: the login code', body: VERIFY_CODE_BODY, response: apiResponses(VERIFY_CODE_RESULT_SCHEMA) } },
    async (request) => accountOf(request).verifyCode(normalizeCode(request.body.code)),
  );

  app.post<{ Body: { password: string } }>(
    '/verify-password',
    { config: loginStep, schema: { summary: 'Log in, step 3 (2FA accounts): the password', body: VERIFY_PASSWORD_BODY, response: apiResponses(VERIFY_CODE_RESULT_SCHEMA) } },
    async (request) => accountOf(request).verifyPassword(request.body.password),
  );
}
