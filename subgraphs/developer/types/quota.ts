import type { Quota } from '../../common/quota';
import { builder } from '../builder';

const QuotaType = builder.objectRef<Quota>('Quota').implement({
  description:
    'Your request budget at the gateway, as counted for this very request: each operation costs points (an alias counts as an operation) and a window refills the budget. What `construct whoami` shows.',
  fields: (t) => ({
    principal: t.exposeString('principal', {
      description:
        'Whose budget it is: `user:<id>` for a signed-in person, `apiKey:<id>` for a key, `ip:<address>` for anonymous callers.',
    }),
    tier: t.exposeString('tier', { description: 'The plan tier whose limit applies.' }),
    limit: t.exposeInt('limit', { description: 'Points per window.' }),
    remaining: t.exposeInt('remaining', {
      description:
        'Points left in this window, after this request; once they run out, requests fail with RATE_LIMITED until `resetAt`.',
    }),
    windowSeconds: t.exposeInt('windowSeconds', { description: 'How long a window lasts, in seconds.' }),
    resetAt: t.expose('resetAt', {
      type: 'DateTime',
      description: 'When this window ends and the budget is whole again.',
    }),
  }),
});

builder.queryFields((t) => ({
  viewerQuota: t.field({
    type: QuotaType,
    nullable: true,
    description:
      'Your rate-limit budget as of this request; null when the gateway counts none for you (limits off).',
    resolve: (_, __, ctx) => ctx.services.quota.viewer(ctx),
  }),
}));
