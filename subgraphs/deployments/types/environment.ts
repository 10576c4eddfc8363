import type { EnvironmentRow, EnvironmentVariableRow } from '../../../db/deployments/schema';
import { builder } from '../builder';
import { EnvironmentKindEnum } from './enums';

export const EnvironmentVariableType = builder
  .objectRef<EnvironmentVariableRow>('EnvironmentVariable')
  .implement({
    description:
      'A variable given to builds and running apps of one environment. Its value is encrypted at rest and never listed; ADMINs can reveal it.',
    fields: (t) => ({
      id: t.exposeID('id', { description: 'Opaque, stable identifier (`var_…`).' }),
      key: t.exposeString('key', { description: 'The variable’s name, as the app reads it.' }),
      preview: t.exposeString('preview', {
        description: 'A masked stand-in for the value (its last characters only when it is long).',
      }),
      createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When it was first set.' }),
      updatedAt: t.expose('updatedAt', { type: 'DateTime', description: 'When its value last changed.' }),
    }),
  });

export const EnvironmentType = builder.objectRef<EnvironmentRow>('Environment').implement({
  description:
    'A set of variables deployments are built and run with: `production` and `preview` for every project, and custom ones.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Opaque, stable identifier (`env_…`).' }),
    name: t.exposeString('name', { description: 'Unique within the project, e.g. `production`.' }),
    kind: t.field({ type: EnvironmentKindEnum, description: 'What it is for.', resolve: (e) => e.kind }),
    variables: t.field({
      type: [EnvironmentVariableType],
      description: 'Its variables by key, values masked. Changes apply to the next deployment.',
      resolve: (e, _, ctx) => ctx.services.environments.variables(ctx, e),
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When it was created.' }),
  }),
});
