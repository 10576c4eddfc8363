import { z } from 'zod';

/**
 * A caller's request budget, as the gateway counted it: the gateway forwards it with each
 * subgraph fetch (`x-construct-quota`) so the API can show it (`viewerQuota`). Only requests
 * with a gateway credential reach a subgraph, so the header is the gateway's word.
 */
export interface Quota {
  /** Who is counted: `user:<id>`, `apiKey:<id>` or `ip:<address>` (the bucket). */
  principal: string;
  /** The plan tier whose limit applies. */
  tier: string;
  /** Points per window. */
  limit: number;
  /** Points left in this window, after this request. */
  remaining: number;
  windowSeconds: number;
  /** When the window ends and the budget is whole again (ISO 8601). */
  resetAt: string;
}

const schema = z.object({
  principal: z.string().max(200),
  tier: z.string().max(64),
  limit: z.number().int().min(0),
  remaining: z.number().int().min(0),
  windowSeconds: z.number().int().min(1),
  resetAt: z.iso.datetime(),
});

export function parseQuota(header: string | null | undefined): Quota | undefined {
  if (!header) return undefined;
  try {
    const parsed = schema.safeParse(JSON.parse(header));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
