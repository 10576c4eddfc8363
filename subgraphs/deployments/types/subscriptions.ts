import type { DeploymentRow } from '../../../db/deployments/schema';
import { builder } from '../builder';
import type { LogLine } from '../services/deployments';
import { DeploymentType } from './deployment';
import { LogLineType } from './deployment-log';
import { LogTypeEnum } from './enums';

builder.subscriptionType({ description: 'Follow changes as they happen.' });

builder.subscriptionFields((t) => ({
  deploymentUpdated: t.field({
    type: DeploymentType,
    description:
      'The deployment as it is now, then again each time its status, steps or production role change.',
    args: { id: t.arg.id({ required: true, description: 'The deployment’s ID.' }) },
    subscribe: (_, { id }, ctx) => ctx.services.deployments.follow(ctx, id),
    resolve: (row) => row as DeploymentRow,
  }),
  projectDeploymentsUpdated: t.field({
    type: DeploymentType,
    description:
      'Each deployment of the project whenever it is created or changes (status, steps, production role).',
    args: { projectId: t.arg.id({ required: true, description: 'The project’s ID.' }) },
    subscribe: (_, { projectId }, ctx) => ctx.services.deployments.followProject(ctx, projectId),
    resolve: (row) => row as DeploymentRow,
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
    subscribe: (_, args, ctx) => ctx.services.deployments.followLogs(ctx, args),
    resolve: (line) => line as LogLine,
  }),
}));
