import { builder } from '../builder';

/** Organizations belong to accounts; deployments knows their id and adds their projects. */
export const OrganizationRef = builder.externalRef('Organization', builder.selection<{ id: string }>('id'));
