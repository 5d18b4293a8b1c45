/**
 * QR login: POST /auth/qr starts one (a login step: counted by the login rate limit) and answers the first
 * code; GET /auth/qr shows the code to scan now (it changes as Telegram refreshes it). Both carry the code
 * as a tg://login link and as an SVG image.
 */
import type { FastifyInstance } from 'fastify';
import type { Authenticated, PasswordRequired, QrPending } from '../../../account/types.js';
import { qrSvg } from '../../qr-svg.js';
import { apiResponses, QR_CODE_SCHEMA, QR_START_SCHEMA } from '../../schemas.js';
import { accountOf } from './index.js';

async function withSvg(answer: QrPending | Authenticated | PasswordRequired): Promise<object> {
  return answer.state === 'qr_pending' ? { ...answer, svg: await qrSvg(answer.url) } : answer;
}

export async function qrRoutes(app: FastifyInstance): Promise<void> {
  app.post(
    '/qr',
    {
      config: { loginStep: true },
      schema: {
        summary: 'Log in by QR code: start (or restart) it; answers the first code as a tg://login link and an SVG image',
        response: apiResponses(QR_START_SCHEMA),
      },
    },
    async (request) => withSvg(await accountOf(request).startQrLogin()),
  );
  app.get(
    '/qr',
    { schema: { summary: 'The QR code to scan now, while qr_pending (it changes as Telegram refreshes it)', response: apiResponses(QR_CODE_SCHEMA) } },
    async (request) => withSvg(accountOf(request).qrCode()),
  );
}
