/**
 * One consumer of the service's events for the latency bench, in a process of its own (as the baseline's bare
 * mtcute client is, and as a user's consumer would be): the events bench runs one per way of delivery.
 *   tsx bench/event-consumer.ts sse URL TOKEN     the SSE client (dev/event-clients.ts), resuming with Last-Event-ID
 *   tsx bench/event-consumer.ts webhook SECRET    the webhook receiver (signatures checked) → {"url"} once listening
 * Then {"text","at"} per message.new — `at` on the monotonic clock every process shares (ms).
 */
import { sseClient, webhookReceiver, type Event } from '../dev/event-clients.js';

const [mode, ...args] = process.argv.slice(2);
const print = (value: object): void => void process.stdout.write(JSON.stringify(value) + '\n');
const onEvent = (e: Event): void => {
  const at = Number(process.hrtime.bigint()) / 1e6;
  if (e.type === 'message.new') print({ text: e.message.text, at });
};
process.on('SIGTERM', () => process.exit(0));

if (mode === 'sse') {
  const client = sseClient(args[0]!, args[1]!, { onEvent });
  // Nothing is kept: the arrivals are printed.
  setInterval(() => void client.received.splice(0), 1000).unref();
  setInterval(() => undefined, 1 << 30); // stays up until SIGTERM
} else if (mode === 'webhook') {
  const receiver = await webhookReceiver(args[0]!, { onEvent });
  setInterval(() => void receiver.accepted.splice(0), 1000);
  print({ url: receiver.url });
} else {
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exit(2);
}
