/**
 * A load-generator process of the subscription benchmark, forked by run.ts (never run by hand):
 * opens its share of the client WebSockets to the gateway, multiplexes up to `perSocket`
 * graphql-ws subscriptions on each, checks every event and records its latency.
 *
 * It speaks graphql-transport-ws itself, on `ws`, instead of using graphql-ws's client: that
 * client hands every incoming message to every subscription of the socket (each checks the id),
 * so at 100 subscriptions a socket it would cost 100 calls per event, and this process, not the
 * gateway, would set the pace. Here one handler per socket looks the subscription up by id.
 *
 * Latency = the monotonic clock when the message is handed to this process − the event's
 * `publishedAt` (the same clock, read by the publisher in the subgraph process).
 */
import WebSocket from 'ws';
import { createHistogram, type Histogram, record } from './histogram';
import { creatorIdOf, deploymentId, monotonicMs, userName } from './model';

export interface ConnectCommand {
  type: 'connect';
  url: string;
  query: string;
  operationName: string;
  /** Subscriptions in the whole run; subscription i is on socket floor(i / perSocket) and follows deployment i % distinct. */
  subscriptions: number;
  perSocket: number;
  distinct: number;
  /** The sockets this process opens (indices over the whole run). */
  sockets: number[];
}

export type DriverMessage =
  | ConnectCommand
  | { type: 'subscribe' }
  | { type: 'window'; from: number; to: number }
  | { type: 'progress' }
  | { type: 'report' }
  | { type: 'close' };

export interface Progress {
  type: 'progress';
  /** Subscriptions that have had at least one event. */
  withEvents: number;
  received: number;
}

export interface ClientReport {
  type: 'report';
  sockets: number;
  subscriptions: number;
  /** Latencies of the events stamped inside the window. */
  histogram: Histogram;
  /** Per second of the window (by publish time): events, and the sum of their latencies. */
  perSecondEvents: number[];
  perSecondLatencySumMs: number[];
  /** Events received at all, in and out of the window. */
  received: number;
  subscriptionsWithoutWindowEvents: number;
  /** Events whose sequence was not above the last one seen on that subscription. */
  repeated: number;
  /** Sequence numbers skipped on a subscription (events it never got, except at the very end). */
  skipped: number;
  /** `next` payloads with GraphQL errors, or with data that is not the event it should be. */
  badEvents: number;
  /** graphql-ws `error` and `complete` messages, and sockets closed by the other side. */
  subscriptionErrors: number;
  completed: number;
  socketsClosed: number;
  samples: string[];
}

export type ClientMessage =
  | { type: 'connected'; sockets: number }
  | { type: 'subscribed'; subscriptions: number }
  | { type: 'failed'; message: string }
  | Progress
  | ClientReport;

function send(message: ClientMessage): void {
  process.send?.(message);
}

// Per subscription of this process, by slot.
let slotOf = new Map<string, number>();
let expectedId: string[] = [];
let expectedCreator: string[] = [];
let expectedName: string[] = [];
let lastSequence = new Int32Array(0);
let windowEvents = new Uint32Array(0);
let receivedEvents = new Uint32Array(0);

const sockets: WebSocket[] = [];
let command: ConnectCommand | undefined;
let histogram = createHistogram();
let window = { from: Number.POSITIVE_INFINITY, to: Number.POSITIVE_INFINITY };
let perSecondEvents: number[] = [];
let perSecondLatencySumMs: number[] = [];
const counters = {
  received: 0,
  repeated: 0,
  skipped: 0,
  badEvents: 0,
  subscriptionErrors: 0,
  completed: 0,
  socketsClosed: 0,
};
const samples: string[] = [];
let closing = false;

function sample(text: string): void {
  if (samples.length < 10) samples.push(text.length > 500 ? `${text.slice(0, 500)}…` : text);
}

interface NextPayload {
  data?: {
    deploymentUpdated?: {
      id?: unknown;
      sequence?: unknown;
      publishedAt?: unknown;
      creator?: { id?: unknown; name?: unknown } | null;
    } | null;
  } | null;
  errors?: unknown;
}

function onNext(id: string, payload: NextPayload, receivedAt: number, raw: string): void {
  const slot = slotOf.get(id);
  if (slot === undefined) {
    counters.badEvents++;
    sample(`event for an unknown subscription: ${raw}`);
    return;
  }
  counters.received++;
  receivedEvents[slot]!++;
  const event = payload.data?.deploymentUpdated;
  if (
    payload.errors !== undefined ||
    !event ||
    event.id !== expectedId[slot] ||
    event.creator?.id !== expectedCreator[slot] ||
    event.creator?.name !== expectedName[slot] ||
    typeof event.publishedAt !== 'number' ||
    typeof event.sequence !== 'number'
  ) {
    counters.badEvents++;
    sample(`bad event: ${raw}`);
    return;
  }
  const last = lastSequence[slot]!;
  if (last > 0) {
    if (event.sequence <= last) counters.repeated++;
    else counters.skipped += event.sequence - last - 1;
  }
  if (event.sequence > last) lastSequence[slot] = event.sequence;
  const publishedAt = event.publishedAt;
  if (publishedAt >= window.from && publishedAt < window.to) {
    const latency = receivedAt - publishedAt;
    record(histogram, latency);
    windowEvents[slot]!++;
    const second = Math.floor((publishedAt - window.from) / 1000);
    if (second < perSecondEvents.length) {
      perSecondEvents[second]!++;
      perSecondLatencySumMs[second]! += latency;
    }
  }
}

function openSocket(url: string, socketIndex: number): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, 'graphql-transport-ws', { perMessageDeflate: false });
    sockets.push(socket);
    let acknowledged = false;
    const timer = setTimeout(() => {
      reject(new Error(`socket ${socketIndex}: no connection_ack within 30 s`));
      socket.terminate();
    }, 30_000);
    socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: {} })));
    socket.on('error', (error) => {
      clearTimeout(timer);
      if (!acknowledged) reject(new Error(`socket ${socketIndex}: ${error.message}`));
      else sample(`socket ${socketIndex} error: ${error.message}`);
    });
    socket.on('close', (code, reason) => {
      clearTimeout(timer);
      if (!acknowledged) reject(new Error(`socket ${socketIndex} closed before the ack: ${code} ${reason}`));
      if (!closing) {
        counters.socketsClosed++;
        sample(`socket ${socketIndex} closed by the gateway: ${code} ${reason.toString()}`);
      }
    });
    socket.on('message', (data: Buffer) => {
      const receivedAt = monotonicMs();
      const raw = data.toString('utf8');
      let message: { type?: string; id?: string; payload?: unknown };
      try {
        message = JSON.parse(raw) as typeof message;
      } catch {
        counters.badEvents++;
        sample(`not JSON: ${raw}`);
        return;
      }
      switch (message.type) {
        case 'next':
          onNext(String(message.id), (message.payload ?? {}) as NextPayload, receivedAt, raw);
          return;
        case 'ping':
          socket.send('{"type":"pong"}');
          return;
        case 'pong':
          return;
        case 'connection_ack':
          acknowledged = true;
          clearTimeout(timer);
          resolve(socket);
          return;
        case 'error':
          counters.subscriptionErrors++;
          sample(`subscription error: ${raw}`);
          return;
        case 'complete':
          counters.completed++;
          sample(`completed by the gateway: ${raw}`);
          return;
        default:
          counters.badEvents++;
          sample(`unexpected message: ${raw}`);
      }
    });
  });
}

/**
 * Opens the sockets and waits for every `connection_ack`; subscribing is a second step, which
 * the driver starts once every client process is connected: a gateway busy with a flood of
 * subscribes may otherwise not answer a later socket's `connection_init` within graphql-ws's
 * 3 s and close it (4408), which says more about how the clients arrive than about the gateway.
 */
async function connect(given: ConnectCommand): Promise<void> {
  command = given;
  const { perSocket, subscriptions, distinct } = given;
  const ids: number[] = [];
  for (const socketIndex of given.sockets) {
    const first = socketIndex * perSocket;
    const last = Math.min(subscriptions, first + perSocket);
    for (let i = first; i < last; i++) ids.push(i);
  }
  slotOf = new Map(ids.map((id, slot) => [String(id), slot]));
  expectedId = ids.map((i) => deploymentId(i % distinct));
  expectedCreator = ids.map((i) => creatorIdOf(i % distinct));
  expectedName = expectedCreator.map(userName);
  lastSequence = new Int32Array(ids.length);
  windowEvents = new Uint32Array(ids.length);
  receivedEvents = new Uint32Array(ids.length);
  await Promise.all(given.sockets.map((socketIndex) => openSocket(given.url, socketIndex)));
  send({ type: 'connected', sockets: sockets.length });
}

/** Sends every subscription of every socket at once, as a crowd of clients arriving together would. */
function subscribe(): void {
  if (!command) throw new Error('subscribe before connect');
  const { query, operationName, distinct, perSocket, subscriptions } = command;
  let count = 0;
  command.sockets.forEach((socketIndex, position) => {
    const socket = sockets[position]!;
    const first = socketIndex * perSocket;
    const last = Math.min(subscriptions, first + perSocket);
    for (let i = first; i < last; i++, count++) {
      const variables = { id: deploymentId(i % distinct) };
      socket.send(
        JSON.stringify({ id: String(i), type: 'subscribe', payload: { query, operationName, variables } }),
      );
    }
  });
  send({ type: 'subscribed', subscriptions: count });
}

function report(): ClientReport {
  let without = 0;
  for (const count of windowEvents) if (count === 0) without++;
  return {
    type: 'report',
    sockets: sockets.length,
    subscriptions: windowEvents.length,
    histogram,
    perSecondEvents,
    perSecondLatencySumMs,
    received: counters.received,
    subscriptionsWithoutWindowEvents: without,
    repeated: counters.repeated,
    skipped: counters.skipped,
    badEvents: counters.badEvents,
    subscriptionErrors: counters.subscriptionErrors,
    completed: counters.completed,
    socketsClosed: counters.socketsClosed,
    samples,
  };
}

process.on('message', (message: DriverMessage) => {
  switch (message.type) {
    case 'connect':
      connect(message).catch((error: unknown) =>
        send({ type: 'failed', message: error instanceof Error ? error.message : String(error) }),
      );
      return;
    case 'subscribe':
      subscribe();
      return;
    case 'window': {
      window = { from: message.from, to: message.to };
      histogram = createHistogram();
      const seconds = Math.ceil((message.to - message.from) / 1000);
      perSecondEvents = new Array<number>(seconds).fill(0);
      perSecondLatencySumMs = new Array<number>(seconds).fill(0);
      windowEvents.fill(0);
      return;
    }
    case 'progress': {
      let withEvents = 0;
      for (const count of receivedEvents) if (count > 0) withEvents++;
      send({
        type: 'progress',
        withEvents,
        received: counters.received,
      });
      return;
    }
    case 'report':
      send(report());
      return;
    case 'close':
      closing = true;
      for (const socket of sockets) socket.terminate();
      process.disconnect?.();
      setTimeout(() => process.exit(0), 100).unref();
      return;
  }
});

// The driver going away (Ctrl-C, a crash) ends this process too.
process.on('disconnect', () => {
  closing = true;
  for (const socket of sockets) socket.terminate();
  process.exit(0);
});
