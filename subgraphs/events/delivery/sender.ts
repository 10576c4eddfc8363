import { Agent, errors } from 'undici';
import { checkUrl, type GuardOptions, guardedLookup, RefusedTarget } from '../../common/ssrf';
import { parseRetryAfter } from './schedule';

/** What one HTTP attempt came to, as recorded in `WebhookDeliveryAttempt`. */
export interface AttemptResult {
  startedAt: Date;
  durationMs: number;
  /** The receiver's status; null when no response came. */
  statusCode: number | null;
  /** Why the attempt failed, in words its owner can act on; null on success. */
  error: string | null;
  /** The first bytes of the response body, as text (null without a response). */
  excerpt: string | null;
  /** The receiver's `Retry-After`, in seconds, on a failed response. */
  retryAfterSeconds: number | null;
}

export interface Sender {
  /** POSTs `body` to `url`; never throws: every way an attempt can go is an `AttemptResult`. */
  send(url: string, headers: Record<string, string>, body: string): Promise<AttemptResult>;
  close(): Promise<void>;
}

export const EXCERPT_BYTES = 1024;
/** Beyond this the rest of a response is not worth its bandwidth: the connection is dropped instead. */
const DRAIN_BYTES = 64 * 1024;

const seconds = (ms: number) => `${Number((ms / 1000).toFixed(3))} s`;

export function createSender(options: GuardOptions & { timeoutMs: number }): Sender {
  // One agent for all endpoints: a keep-alive pool per origin, so a busy endpoint gets its
  // events over a few warm connections. Its DNS lookup is the guard's, and undici follows no
  // redirect unless told to: a 3xx is just a failed attempt.
  const agent = new Agent({
    connect: { lookup: guardedLookup(options), timeout: options.timeoutMs },
    keepAliveTimeout: 30_000,
    headersTimeout: options.timeoutMs,
    bodyTimeout: options.timeoutMs,
  });

  return {
    async send(url, headers, body) {
      const startedAt = new Date();
      const started = performance.now();
      const result = (fields: Partial<AttemptResult>): AttemptResult => ({
        startedAt,
        durationMs: Math.round(performance.now() - started),
        statusCode: null,
        error: null,
        excerpt: null,
        retryAfterSeconds: null,
        ...fields,
      });
      const checked = checkUrl(url, options);
      if (!checked.ok) return result({ error: `refused: ${checked.message}` });
      // `checkUrl` judged an IP literal host already: the connection makes no DNS lookup for one.
      const target = checked.url;
      const signal = AbortSignal.timeout(options.timeoutMs);
      try {
        const response = await agent.request({
          origin: target.origin,
          path: `${target.pathname}${target.search}`,
          method: 'POST',
          headers,
          body,
          signal,
        });
        const chunks: Buffer[] = [];
        let read = 0;
        for await (const chunk of response.body as AsyncIterable<Buffer>) {
          if (read < EXCERPT_BYTES) chunks.push(chunk.subarray(0, EXCERPT_BYTES - read));
          read += chunk.length;
          if (read > DRAIN_BYTES) {
            response.body.destroy();
            break;
          }
        }
        const excerpt = new TextDecoder('utf-8', { fatal: false }).decode(Buffer.concat(chunks));
        const status = response.statusCode;
        const ok = status >= 200 && status < 300;
        return result({
          statusCode: status,
          excerpt,
          error: ok
            ? null
            : status >= 300 && status < 400
              ? `answered ${status}: redirects are not followed`
              : `answered ${status}`,
          retryAfterSeconds: ok ? null : parseRetryAfter(response.headers['retry-after']),
        });
      } catch (error) {
        return result({ error: describeFailure(error, signal, options.timeoutMs) });
      }
    },
    close: () => agent.close(),
  };
}

/** Why no response came, without stacks or internal addresses. */
function describeFailure(error: unknown, signal: AbortSignal, timeoutMs: number): string {
  if (signal.aborted) return `timed out after ${seconds(timeoutMs)}`;
  for (let e: unknown = error; e; e = (e as { cause?: unknown }).cause) {
    if (e instanceof RefusedTarget) return e.message;
    if (e instanceof errors.HeadersTimeoutError || e instanceof errors.BodyTimeoutError) {
      return `timed out after ${seconds(timeoutMs)}`;
    }
    if (e instanceof errors.ConnectTimeoutError) return `could not connect within ${seconds(timeoutMs)}`;
    const code = (e as { code?: string }).code;
    switch (code) {
      case 'ECONNREFUSED':
        return 'connection refused';
      case 'ECONNRESET':
      case 'UND_ERR_SOCKET':
        return 'connection closed before a response';
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
        return 'host not found';
      case 'EHOSTUNREACH':
      case 'ENETUNREACH':
        return 'host unreachable';
      case 'UND_ERR_HEADERS_TIMEOUT':
      case 'UND_ERR_BODY_TIMEOUT':
        return `timed out after ${seconds(timeoutMs)}`;
      default:
        if (code?.startsWith('ERR_TLS') || code?.includes('CERT')) return `TLS failed: ${code}`;
    }
  }
  const code = (error as { code?: string }).code;
  return code ? `request failed: ${code}` : 'request failed';
}
