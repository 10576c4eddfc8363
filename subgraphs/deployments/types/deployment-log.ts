import { builder } from '../builder';
import type { LogLine } from '../services/deployments';
import { LogStreamEnum, LogTypeEnum } from './enums';

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
