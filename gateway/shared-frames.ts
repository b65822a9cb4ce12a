/**
 * A subscription payload shared by many subscribers is serialised once, and each socket gets it
 * inside its own `next` frame.
 *
 * The payload of one event is already executed once per (event, operation, variables,
 * authorization) and handed to every subscriber with that key as the same result object
 * (subscription-executor.ts `deliver`, `shareKeyOf`). graphql-ws 6 then builds and
 * JSON.stringify's a whole `next` message per socket (server.ts `emit.next`), so 5,000 subscribers
 * of one event meant 5,000 serialisations of the same payload. Here:
 *
 *   - `sharedPayload(result)` serialises a shared result once (cached by the result object, so only
 *     subscribers that were given the very same object, i.e. share the key, share the text) and
 *     returns a marker object that `onNext` hands to graphql-ws in place of the payload;
 *   - graphql-ws passes its `jsonMessageReplacer` option to JSON.stringify for every message
 *     (server.ts `stringifyMessage(msg, replacer)`); `replaceSharedPayload` turns the marker into a
 *     placeholder string (so the payload is not walked again) and remembers it;
 *   - `sendSharedFrames(ws)` wraps the socket's `send`: graphql-ws/use/ws calls it synchronously
 *     right after the stringify, and the placeholder is swapped for the serialised payload.
 *
 * A subscriber whose payload differs (FORBIDDEN errors for its denials, errors with its own
 * correlation id: subscription-service.ts shapeNext) gets its own object, serialised for it alone, as
 * before. The frame is byte for byte what graphql-ws would have sent.
 */
import { randomBytes } from 'node:crypto';
import type { ExecutionResult } from 'graphql';
import type { WebSocket } from 'ws';

/** The serialised payload, standing in for it in the message graphql-ws builds (an object, as its validation wants). */
export class SharedPayload {
  constructor(readonly json: string) {}
}

// Random per process, so that no client-chosen text (a subscription id) can be taken for it.
const PLACEHOLDER = `concord-shared-payload:${randomBytes(12).toString('hex')}`;
const PLACEHOLDER_JSON = JSON.stringify(PLACEHOLDER);

const serialised = new WeakMap<ExecutionResult, SharedPayload>();

/** The shared result's payload as graphql-ws would write it (errors as their JSON), serialised once per result object. */
export function sharedPayload(result: ExecutionResult): SharedPayload {
  let shared = serialised.get(result);
  if (shared === undefined) {
    const { errors, ...rest } = result;
    const payload = errors ? { ...rest, errors: errors.map((e) => (typeof (e as { toJSON?: unknown }).toJSON === 'function' ? e.toJSON() : e)) } : rest;
    serialised.set(result, (shared = new SharedPayload(JSON.stringify(payload))));
  }
  return shared;
}

/** The payload of the message being stringified now; taken by the socket's send that follows. */
let pending: SharedPayload | null = null;

/** graphql-ws's `jsonMessageReplacer`: a shared payload becomes the placeholder. */
export function replaceSharedPayload(this: unknown, _key: string, value: unknown): unknown {
  if (value instanceof SharedPayload) {
    pending = value;
    return PLACEHOLDER;
  }
  return value;
}

/** Wraps `ws.send` so that a frame carrying the placeholder carries the serialised payload instead. */
export function sendSharedFrames(ws: WebSocket): void {
  const send = ws.send.bind(ws) as (data: unknown, ...rest: unknown[]) => void;
  (ws as { send: unknown }).send = (data: unknown, ...rest: unknown[]) => {
    const shared = pending;
    pending = null;
    if (shared !== null && typeof data === 'string') {
      // The payload is the message's last member, so its placeholder is the last occurrence.
      const at = data.lastIndexOf(PLACEHOLDER_JSON);
      if (at >= 0) data = data.slice(0, at) + shared.json + data.slice(at + PLACEHOLDER_JSON.length);
    }
    send(data, ...rest);
  };
}
