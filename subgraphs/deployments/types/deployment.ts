import type { DeploymentRow } from '../../../db/deployments/schema';
import { builder } from '../builder';
import type { steps } from '../runtime/runtime';
import { LogLineType } from './deployment-log';
import {
  DeploymentStatusEnum,
  DeploymentStepEnum,
  LogTypeEnum,
  SourceKindEnum,
  StepOutcomeEnum,
} from './enums';
import { EnvironmentType } from './environment';
import { UserRef } from './user';

interface StepRecord {
  step: (typeof steps)[number];
  outcome: 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'SKIPPED' | 'CANCELED';
  startedAt: Date;
  finishedAt: Date | null;
}

const DeploymentEventType = builder.objectRef<StepRecord>('DeploymentEvent').implement({
  description: 'A pipeline step of a deployment: when it started, how long it took, how it ended.',
  fields: (t) => ({
    step: t.field({ type: DeploymentStepEnum, description: 'Which step.', resolve: (e) => e.step }),
    outcome: t.field({
      type: StepOutcomeEnum,
      description: 'How it ended, or RUNNING.',
      resolve: (e) => e.outcome,
    }),
    startedAt: t.expose('startedAt', { type: 'DateTime', description: 'When it started.' }),
    finishedAt: t.expose('finishedAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When it ended; null while it runs.',
    }),
    durationMs: t.int({
      nullable: true,
      description: 'How long it took in milliseconds; null while it runs.',
      resolve: (e) => (e.finishedAt ? e.finishedAt.getTime() - e.startedAt.getTime() : null),
    }),
  }),
});

export const DeploymentType = builder.objectRef<DeploymentRow>('Deployment');

DeploymentType.implement({
  description: 'One build of a project’s code, and the app it runs once READY, at its own URL.',
  // Whatever path returns a deployment (root field, nested, `_entities`, a subscription), only
  // members of its organization see it.
  authScopes: (deployment) => ({ role: { organizationId: deployment.organizationId, atLeast: 'VIEWER' } }),
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Opaque, stable identifier (`dpl_…`).' }),
    environment: t.field({
      type: EnvironmentType,
      description: 'The environment it was built and runs with.',
      resolve: (d, _, ctx) => ctx.services.environments.ofDeployment(ctx, d),
    }),
    sourceKind: t.field({
      type: SourceKindEnum,
      description: 'Git or upload.',
      resolve: (d) => d.sourceKind,
    }),
    ref: t.exposeString('ref', {
      nullable: true,
      description: 'The branch, tag or commit asked for (git only).',
    }),
    commitSha: t.exposeString('commitSha', {
      nullable: true,
      description: 'The commit the ref resolved to, once the source was fetched (git only).',
    }),
    status: t.field({
      type: DeploymentStatusEnum,
      description: 'Where it is in its life.',
      resolve: (d) => d.status,
    }),
    url: t.string({
      description: 'Its own URL, which keeps serving this deployment whatever production points at.',
      resolve: (d, _, ctx) => ctx.services.deployments.url(ctx, d),
    }),
    isProduction: t.boolean({
      description: 'Whether the project’s production URL serves this deployment now.',
      resolve: (d, _, ctx) => ctx.services.deployments.isProduction(ctx, d),
    }),
    creator: t.field({
      type: UserRef,
      // Resolved by accounts: nullable so an accounts outage degrades only this field.
      nullable: true,
      description: 'Who created it.',
      resolve: (d) => (d.creatorId ? { id: d.creatorId } : null),
    }),
    redeployOf: t.field({
      type: DeploymentType,
      nullable: true,
      description: 'The deployment this one rebuilt, for a redeploy.',
      resolve: (d, _, ctx) => (d.redeployOf ? ctx.services.deployments.visible(ctx, d.redeployOf) : null),
    }),
    errorMessage: t.exposeString('errorMessage', {
      nullable: true,
      description: 'Why it failed or crashed, in words a user can act on.',
    }),
    errorStep: t.field({
      type: DeploymentStepEnum,
      nullable: true,
      description: 'The step that failed.',
      resolve: (d) => d.errorStep as StepRecord['step'] | null,
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When it was queued.' }),
    buildStartedAt: t.expose('buildStartedAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When its build took a slot and started.',
    }),
    readyAt: t.expose('readyAt', { type: 'DateTime', nullable: true, description: 'When it became READY.' }),
    finishedAt: t.expose('finishedAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When it ended in ERROR, CANCELED or REMOVED.',
    }),
    events: t.field({
      type: [DeploymentEventType],
      description: 'Its pipeline steps so far, in order.',
      resolve: (d, _, ctx) => ctx.services.deployments.steps(ctx, d),
    }),
    logs: t.connection(
      {
        type: LogLineType,
        description: 'Its log lines, oldest first; build and runtime together unless `type` is given.',
        args: {
          type: t.arg({ type: LogTypeEnum, required: false, description: 'Only lines of this type.' }),
        },
        resolve: (d, args, ctx) => ctx.services.deployments.logs(ctx, d, args),
      },
      { name: 'DeploymentLogConnection', description: 'A page of log lines.' },
      { name: 'DeploymentLogEdge', description: 'A log line in a page of log lines.' },
    ),
  }),
});

builder.asEntity(DeploymentType, {
  key: builder.selection<{ id: string }>('id'),
  resolveReference: (ref, ctx) => ctx.services.deployments.visible(ctx, ref.id),
});

builder.queryFields((t) => ({
  deployment: t.field({
    type: DeploymentType,
    nullable: true,
    description:
      'The deployment with this ID, or null if there is none or you are not a member of its organization.',
    args: { id: t.arg.id({ required: true, description: 'The deployment’s ID.' }) },
    resolve: (_, { id }, ctx) => ctx.services.deployments.visible(ctx, id),
  }),
}));

UserRef.implement({
  description: 'A person with an account.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Opaque, stable identifier (`usr_…`).' }),
    deployments: t.connection(
      {
        type: DeploymentType,
        // Added to an accounts type: nullable so a deployments outage leaves the user readable.
        nullable: true,
        description: 'Deployments this user created, newest first, in the organizations you are a member of.',
        resolve: (user, args, ctx) => ctx.services.deployments.ofCreator(ctx, user.id, args),
      },
      { name: 'UserDeploymentConnection', description: 'A page of a user’s deployments.' },
      { name: 'UserDeploymentEdge', description: 'A deployment in a page of a user’s deployments.' },
    ),
  }),
});
