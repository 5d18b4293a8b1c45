// An account's incoming events as list rows, newest first, at most MAX_ROWS (the oldest go). Everything is
// set as text: a message shows the characters it holds, never HTML of its own.

export const MAX_ROWS = 200;
/** What a generic row shows of an event type this console does not know, at most. */
const MAX_GENERIC_CHARS = 500;

/** @param {HTMLElement} list  an <ol> or <ul> */
export function createEventList(list, { max = MAX_ROWS } = {}) {
  return {
    add(event) {
      list.prepend(row(event));
      while (list.children.length > max) list.lastElementChild.remove();
    },
    clear() {
      list.replaceChildren();
    },
  };
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

const chat = (peer) => (peer === null || peer === undefined ? 'a chat' : `chat ${peer}`);

/** What the row says: its kind, who and where, and the text (if any). */
function describe(event) {
  const message = event.message || {};
  switch (event.type) {
    case 'message.new':
      return {
        kind: message.out ? 'Sent message' : 'New message',
        about: `${message.out ? 'from you' : `from ${message.from ?? 'unknown'}`} in ${chat(message.peer)}`,
        text: message.text || '(no text)',
        time: message.date,
      };
    case 'message.edit':
      return { kind: 'Edited message', about: `#${message.id} in ${chat(message.peer)}`, text: message.text || '(no text)', time: message.date };
    case 'message.delete': {
      const ids = event.messageIds || [];
      return { kind: 'Deleted', about: `message${ids.length === 1 ? '' : 's'} ${ids.join(', ')} in ${chat(event.peer)}` };
    }
    case 'message.read':
      return {
        kind: 'Read',
        about: `${chat(event.peer)} up to #${event.maxId} ${event.direction === 'outbox' ? 'by the other side' : 'by this account'}`,
      };
    case 'updates.gap':
      return { kind: 'Missed updates', about: 'too much happened while away; re-read the history', text: event.detail };
    default: {
      const { id: _id, type: _type, at: _at, account: _account, ...rest } = event;
      const json = JSON.stringify(rest);
      return { kind: event.type, text: json.length > MAX_GENERIC_CHARS ? `${json.slice(0, MAX_GENERIC_CHARS)}…` : json };
    }
  }
}

function row(event) {
  const { kind, about, text, time = event.at } = describe(event);
  const item = element('li', `event ${event.type.replace(/[^a-z0-9]+/gi, '-')}`);
  item.dataset.id = String(event.id);
  const head = element('p', 'event-head');
  const when = element('time', 'event-time', new Date(time).toLocaleTimeString());
  when.dateTime = time;
  when.title = new Date(time).toLocaleString();
  head.append(when, ' ', element('span', 'event-kind', kind));
  if (about) head.append(' ', element('span', 'event-about', about));
  item.append(head);
  if (text !== undefined) item.append(element('p', 'event-text', text));
  return item;
}
