/**
 * The service messages a client sends that the encrypted layer answers (or ignores) itself
 * (core.telegram.org/mtproto/service_messages and /service_messages_about_messages). tl/ reads them
 * from the schema under mtcute's `mt_` names; this module only says which they are and types them.
 */
import type Long from 'long';
import { tlSchema } from '../tl/index.js';
import type { TlObject } from '../types.js';

export type ClientServiceMessage =
  | { _: 'mt_msgs_ack'; msgIds: Long[] }
  | { _: 'mt_ping'; pingId: Long }
  | { _: 'mt_ping_delay_disconnect'; pingId: Long; disconnectDelay: number }
  | { _: 'mt_get_future_salts'; num: number }
  | { _: 'mt_msgs_state_req'; msgIds: Long[] }
  | { _: 'mt_destroy_session'; sessionId: Long }
  | { _: 'mt_rpc_drop_answer'; reqMsgId: Long }
  | { _: 'mt_destroy_auth_key' }
  // Accepted and ignored.
  | { _: 'mt_http_wait' | 'mt_msg_resend_req' | 'mt_msgs_state_info' | 'mt_msgs_all_info' };

const SERVICE_NAMES: ReadonlySet<string> = new Set<ClientServiceMessage['_']>([
  'mt_msgs_ack',
  'mt_ping',
  'mt_ping_delay_disconnect',
  'mt_get_future_salts',
  'mt_msgs_state_req',
  'mt_destroy_session',
  'mt_rpc_drop_answer',
  'mt_destroy_auth_key',
  'mt_http_wait',
  'mt_msg_resend_req',
  'mt_msgs_state_info',
  'mt_msgs_all_info',
]);

/** The parsed object as a service message the core handles, or null (an API call, or another `mt_` object). */
export function asClientServiceMessage(obj: TlObject): ClientServiceMessage | null {
  return SERVICE_NAMES.has(obj._) ? (obj as unknown as ClientServiceMessage) : null;
}

/** Whether a constructor id is one of those service messages (a malformed one breaks the protocol). */
export function isClientServiceConstructor(id: number): boolean {
  const ctor = tlSchema().byId.get(id);
  return ctor !== undefined && SERVICE_NAMES.has(ctor.name);
}
