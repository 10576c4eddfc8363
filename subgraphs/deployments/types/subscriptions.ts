import type { DeploymentRow } from '../../../db/deployments/schema';
import { graphqlError, refusal } from '../../common/errors';
import type { LogLineMessage } from '../../common/pubsub';
import { builder } from '../builder';
import type { DeploymentsContext } from '../context';
import { visibleDeployment } from '../services/deployments';
import { visibleProject } from '../services/projects';
import { createDeploymentsLoaders } from '../storage';
import { DeploymentType } from './deployment';
import { type LogLine, LogLineType } from './deployment-log';
import { LogTypeEnum } from './enums';

const HISTORY_PAGE = 500;

const notFound = (what: string) => graphqlError('NOT_FOUND', `No such ${what}.`);

/**
 * Each event is read fresh, and the loaders start empty for it: a subscription's context
 * lives as long as the subscription, and last event's cached rows would be stale.
 */
function fresh(ctx: DeploymentsContext, row: DeploymentRow): DeploymentRow {
  ctx.loaders = createDeploymentsLoaders(ctx.storage);
  return row;
}

/** The deployment now, then again after every change, for as long as the caller can see it. */
async function* deploymentChanges(
  ctx: DeploymentsContext,
  changes: AsyncIterable<{ id: string }>,
  first: DeploymentRow | null,
): AsyncGenerator<DeploymentRow> {
  if (first) yield first;
  for await (const change of changes) {
    const row = await ctx.storage.deployment(change.id);
    if (
      row &&
      (await visibleDeployment({ ...ctx, loaders: createDeploymentsLoaders(ctx.storage) }, row.id))
    ) {
      yield row;
    }
  }
}

/**
 * A deployment's log lines: the stored ones first (with `fromStart`), then each new one as it
 * is written. The live feed is joined before the history is read, and lines are handed out by
 * `seq` exactly once; a gap in the feed (a message pub/sub dropped) is filled from storage.
 */
async function* followLogs(
  ctx: DeploymentsContext,
  deploymentId: string,
  type: 'BUILD' | 'RUNTIME' | undefined,
  fromStart: boolean,
): AsyncGenerator<LogLine> {
  const live = ctx.events.pubsub.subscribe('deployment-logs', deploymentId)[Symbol.asyncIterator]();
  let pending = live.next(); // starts listening now, before the history is read
  let last = fromStart ? 0 : await ctx.storage.lastLogSeq(deploymentId);
  const wanted = (line: Pick<LogLineMessage, 'type'>) => !type || line.type === type;
  const stored = async function* (upTo?: number) {
    for (;;) {
      const rows = await ctx.storage.logs(deploymentId, undefined, {
        afterSeq: last,
        beforeSeq: upTo,
        limit: HISTORY_PAGE,
        descending: false,
      });
      for (const row of rows) {
        last = row.seq;
        if (wanted(row)) yield { ...row, createdAt: row.createdAt.toISOString() };
      }
      if (rows.length < HISTORY_PAGE) return;
    }
  };
  try {
    if (fromStart) yield* stored();
    for (;;) {
      const { value: batch, done } = await pending;
      if (done) return;
      pending = live.next();
      for (const line of batch as LogLineMessage[]) {
        if (line.seq <= last) continue;
        if (line.seq > last + 1) yield* stored(line.seq);
        last = line.seq;
        if (wanted(line)) yield { ...line, deploymentId };
      }
    }
  } finally {
    await live.return?.();
  }
}

builder.subscriptionType({ description: 'Follow changes as they happen.' });

builder.subscriptionFields((t) => ({
  deploymentUpdated: t.field({
    type: DeploymentType,
    description:
      'The deployment as it is now, then again each time its status, steps or production role change.',
    args: { id: t.arg.id({ required: true, description: 'The deployment’s ID.' }) },
    subscribe: async (_, { id }, ctx) => {
      if (ctx.caller.kind === 'anonymous') throw refusal(ctx.caller);
      const deployment = await visibleDeployment(ctx, id);
      if (!deployment) throw notFound('deployment');
      const changes = ctx.events.pubsub.subscribe('deployment-updated', id);
      return deploymentChanges(ctx, changes, deployment);
    },
    resolve: (row, _, ctx) => fresh(ctx, row as DeploymentRow),
  }),
  projectDeploymentsUpdated: t.field({
    type: DeploymentType,
    description:
      'Each deployment of the project whenever it is created or changes (status, steps, production role).',
    args: { projectId: t.arg.id({ required: true, description: 'The project’s ID.' }) },
    subscribe: async (_, { projectId }, ctx) => {
      if (ctx.caller.kind === 'anonymous') throw refusal(ctx.caller);
      if (!(await visibleProject(ctx, projectId))) throw notFound('project');
      return deploymentChanges(
        ctx,
        ctx.events.pubsub.subscribe('project-deployments-updated', projectId),
        null,
      );
    },
    resolve: (row, _, ctx) => fresh(ctx, row as DeploymentRow),
  }),
  deploymentLogs: t.field({
    type: LogLineType,
    description:
      'A deployment’s log lines as they are written; with `fromStart`, every earlier line first, so none is missed between reading and following.',
    args: {
      deploymentId: t.arg.id({ required: true, description: 'The deployment’s ID.' }),
      type: t.arg({ type: LogTypeEnum, required: false, description: 'Only lines of this type.' }),
      fromStart: t.arg.boolean({
        required: false,
        defaultValue: true,
        description: 'Send the lines already written first (default), or only new ones.',
      }),
    },
    subscribe: async (_, args, ctx) => {
      if (ctx.caller.kind === 'anonymous') throw refusal(ctx.caller);
      if (!(await visibleDeployment(ctx, args.deploymentId))) throw notFound('deployment');
      return followLogs(ctx, args.deploymentId, args.type ?? undefined, args.fromStart ?? true);
    },
    resolve: (line) => line as LogLine,
  }),
}));
