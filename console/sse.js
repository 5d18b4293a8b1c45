// Server-Sent Events framing (the "event stream" format of the HTML standard), for a stream the console reads
// with fetch(): EventSource cannot send an Authorization header, and the token goes nowhere else. Fed text as
// it arrives (chunks split anywhere, even inside a line or between CR and LF); calls onEvent for each event.

/**
 * @param {{ onEvent: (event: { id: string, type: string, data: string }) => void, onRetry?: (ms: number) => void }} handlers
 * @returns {{ push(text: string): void }}
 */
export function createSseParser({ onEvent, onRetry }) {
  let buffer = '';
  let afterCr = false; // the last chunk ended with CR: a LF starting the next one belongs to it
  let data = [];
  let type = '';
  let lastId = ''; // kept from event to event, as EventSource does

  function field(line) {
    if (line === '') return dispatch();
    if (line.startsWith(':')) return; // a comment: the service's heartbeats and notes
    const colon = line.indexOf(':');
    const name = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (name === 'data') data.push(value);
    else if (name === 'event') type = value;
    else if (name === 'id' && !value.includes('\0')) lastId = value;
    else if (name === 'retry' && /^[0-9]+$/.test(value)) onRetry?.(Number(value));
    // other fields are ignored
  }

  function dispatch() {
    const event = { id: lastId, type: type || 'message', data: data.join('\n') };
    const empty = data.length === 0;
    data = [];
    type = '';
    if (!empty) onEvent(event);
  }

  return {
    push(text) {
      if (afterCr && text.startsWith('\n')) text = text.slice(1);
      afterCr = false;
      buffer += text;
      let start = 0;
      for (let i = 0; i < buffer.length; i++) {
        const c = buffer[i];
        if (c !== '\n' && c !== '\r') continue;
        field(buffer.slice(start, i));
        if (c === '\r') {
          if (i + 1 === buffer.length) afterCr = true;
          else if (buffer[i + 1] === '\n') i++;
        }
        start = i + 1;
      }
      buffer = buffer.slice(start);
    },
  };
}
