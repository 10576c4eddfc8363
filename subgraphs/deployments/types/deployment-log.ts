import { badUserInput } from '../../common/errors';
import { type ConnectionArgs, keysetConnection, type PageQuery } from '../../common/pagination';
import type { LogLineMessage } from '../../common/pubsub';
import { builder } from '../builder';
import type { DeploymentsStorage } from '../storage';
import { LogStreamEnum, LogTypeEnum } from './enums';

export type LogLine = LogLineMessage & { deploymentId: string };

export const LogLineType = builder.objectRef<LogLine>('DeploymentLogLine').implement({
  description: 'One line a deployment’s build or app wrote (secret values masked).',
  fields: (t) => ({
    deploymentId: t.exposeID('deploymentId', { description: 'The deployment it belongs to.' }),
    sequence: t.exposeInt('seq', {
      description: 'Its position among the deployment’s lines (build and runtime together), from 1.',
    }),
    type: t.field({ type: LogTypeEnum, description: 'Build or runtime.', resolve: (l) => l.type }),
    stream: t.field({ type: LogStreamEnum, description: 'Who wrote it.', resolve: (l) => l.stream }),
    message: t.exposeString('line', { description: 'The text, without its line break.' }),
    timestamp: t.field({
      type: 'DateTime',
      description: 'When it was written.',
      resolve: (l) => l.createdAt,
    }),
  }),
});

function sequence(id: string | undefined, argument: string): number | undefined {
  if (id === undefined) return undefined;
  if (!/^\d{1,15}$/.test(id))
    throw badUserInput(`\`${argument}\` is not a cursor this list gave out.`, argument);
  return Number(id);
}

/** A page of a deployment's lines, oldest first: keyset pagination on the line's sequence. */
export function logConnection(
  storage: DeploymentsStorage,
  deploymentId: string,
  type: 'BUILD' | 'RUNTIME' | undefined,
  args: ConnectionArgs,
) {
  return keysetConnection(args, async (page: PageQuery) => {
    const rows = await storage.logs(deploymentId, type, {
      afterSeq: sequence(page.afterId, 'after'),
      beforeSeq: sequence(page.beforeId, 'before'),
      limit: page.limit,
      descending: page.descending,
    });
    return rows.map((row) => ({ ...row, id: String(row.seq), createdAt: row.createdAt.toISOString() }));
  });
}
