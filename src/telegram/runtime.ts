/** What the service needs of mtcute at run time, as one module loaded on first use (see load.ts). */
export { createTelegramClient, prepareClients } from './client-factory.js';
export { callTelegram } from './rpc.js';
export { gapEvent } from './message-json.js';
export { feedUpdates } from './update-feed.js';
export { notifyLoggedInAtLogin, startUpdatesLoopAtHorizon } from './login-horizon.js';
