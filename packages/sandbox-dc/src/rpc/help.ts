/** help.* — the DC list clients use to find (and migrate between) the DCs. */
import type { tl } from '@mtcute/core';
import type { MethodTable, RpcContext } from './context.js';

/** How long clients may cache the config (seconds). */
const CONFIG_TTL_S = 3600;

function config(ctx: RpcContext): tl.RawConfig {
  const date = Math.floor(Date.now() / 1000);
  return {
    _: 'config',
    date,
    expires: date + CONFIG_TTL_S,
    testMode: ctx.env.testMode,
    thisDc: ctx.dcId,
    // No tmp_sessions: mtcute would open extra connections per DC.
    dcOptions: ctx.env.dcs().map((dc) => ({ _: 'dcOption', id: dc.id, ipAddress: dc.host, port: dc.port })),
    dcTxtDomainName: 'sandbox.invalid',
    chatSizeMax: 200,
    megagroupSizeMax: 200_000,
    forwardedCountMax: 100,
    onlineUpdatePeriodMs: 210_000,
    offlineBlurTimeoutMs: 5_000,
    offlineIdleTimeoutMs: 30_000,
    onlineCloudTimeoutMs: 300_000,
    notifyCloudDelayMs: 30_000,
    notifyDefaultDelayMs: 1_500,
    pushChatPeriodMs: 60_000,
    pushChatLimit: 2,
    editTimeLimit: 172_800,
    revokeTimeLimit: 2_147_483_647,
    revokePmTimeLimit: 2_147_483_647,
    ratingEDecay: 2_419_200,
    stickersRecentLimit: 200,
    channelsReadMediaPeriod: 604_800,
    callReceiveTimeoutMs: 20_000,
    callRingTimeoutMs: 90_000,
    callConnectTimeoutMs: 30_000,
    callPacketTimeoutMs: 10_000,
    meUrlPrefix: 'https://t.me/',
    captionLengthMax: 1024,
    messageLengthMax: 4096,
    webfileDcId: ctx.dcId,
  };
}

export const helpMethods: MethodTable = {
  'help.getConfig': {
    access: 'public',
    handle: config,
  },

  'help.getNearestDc': {
    access: 'public',
    handle(ctx) {
      return { _: 'nearestDc', country: 'ZZ', thisDc: ctx.dcId, nearestDc: ctx.dcId };
    },
  },
};
