import { watch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { GraphQLSchema } from 'graphql';
import { ANONYMOUS } from '../../subgraphs/common/caller';
import { CREDENTIAL_HEADER } from '../../subgraphs/common/credential';
import type { Logger } from '../../subgraphs/common/logger';
import { composeSupergraph } from './composition';
import { LoadedSupergraph, type SupergraphOptions } from './supergraph';

export type SupergraphSource =
  | { kind: 'file'; path: string; watch: boolean }
  | { kind: 'subgraphs'; subgraphs: { name: string; url: string }[] };

/**
 * Holds the supergraph the gateway serves and swaps it when its source changes. A supergraph
 * that fails to load is logged and the previous one keeps serving. The data sources of a
 * replaced supergraph are closed once the requests that started on it had time to finish.
 */
export class SupergraphManager {
  private loaded: LoadedSupergraph | undefined;
  private readonly bySchema = new WeakMap<GraphQLSchema, LoadedSupergraph>();
  private readonly listeners = new Set<(supergraph: LoadedSupergraph) => void>();
  private stopWatching: (() => void) | undefined;

  constructor(
    private readonly source: SupergraphSource,
    private readonly options: SupergraphOptions & { logger: Logger },
  ) {}

  get current(): LoadedSupergraph {
    if (!this.loaded) throw new Error('The supergraph is not loaded yet.');
    return this.loaded;
  }

  /** The supergraph a request was validated against, so a reload mid-request changes nothing for it. */
  forSchema(schema: GraphQLSchema): LoadedSupergraph {
    return this.bySchema.get(schema) ?? this.current;
  }

  onChange(listener: (supergraph: LoadedSupergraph) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async start(): Promise<void> {
    this.swap(await this.read());
    if (this.source.kind === 'file' && this.source.watch) this.watchFile(this.source.path);
  }

  /** Reads the source again and swaps the supergraph if it changed. */
  async reload(): Promise<void> {
    try {
      const sdl = await this.read();
      if (sdl === this.loaded?.sdl) return;
      this.swap(sdl);
      this.options.logger.info('supergraph reloaded');
    } catch (error) {
      this.options.logger.error({ err: error }, 'supergraph reload failed; still serving the previous one');
    }
  }

  async close(): Promise<void> {
    this.stopWatching?.();
    await this.loaded?.close();
  }

  private swap(sdl: string) {
    const next = new LoadedSupergraph(sdl, this.options);
    const previous = this.loaded;
    this.loaded = next;
    this.bySchema.set(next.schema, next);
    for (const listener of this.listeners) listener(next);
    // Subscriptions were planned against the old schema: they end now, saying why, and clients
    // subscribe again against the new one.
    previous?.subscriptions.endAll('The schema changed; subscribe again.', 'SCHEMA_RELOADED');
    if (previous) setTimeout(() => void previous.close(), 60_000).unref();
  }

  private async read(): Promise<string> {
    if (this.source.kind === 'file') return readFile(this.source.path, 'utf8');
    const sdls = await Promise.all(
      this.source.subgraphs.map(async ({ name, url }) => ({
        name,
        url,
        sdl: await fetchSubgraphSdl(url, await this.options.credentials.mint(ANONYMOUS, name)),
      })),
    );
    return composeSupergraph(sdls);
  }

  private watchFile(path: string) {
    let timer: NodeJS.Timeout | undefined;
    // Editors and `npm run compose` write in several steps: wait for the writes to settle.
    // The folder, not the file: an atomic save or a Kubernetes volume update replaces the file
    // (a rename), and a watch on the file itself stays on the old one, deaf to later changes.
    // A reload that finds the same SDL changes nothing.
    const watcher = watch(dirname(path), () => {
      clearTimeout(timer);
      timer = setTimeout(() => void this.reload(), 150);
    });
    watcher.on('error', (error) =>
      this.options.logger.warn({ err: error }, 'cannot watch the supergraph file'),
    );
    this.stopWatching = () => {
      clearTimeout(timer);
      watcher.close();
    };
  }
}

async function fetchSubgraphSdl(url: string, credential: string): Promise<string> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', [CREDENTIAL_HEADER]: credential },
    body: JSON.stringify({ query: '{ _service { sdl } }' }),
    signal: AbortSignal.timeout(5_000),
  });
  const body = (await response.json()) as { data?: { _service?: { sdl?: string } } };
  const sdl = body.data?._service?.sdl;
  if (!sdl) throw new Error(`The subgraph at ${url} did not return its SDL (HTTP ${response.status}).`);
  return sdl;
}
