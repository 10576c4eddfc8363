import { builder } from '../builder';

/** Organizations belong to accounts; events knows their id and adds their webhook endpoints. */
export const OrganizationRef = builder.externalRef('Organization', builder.selection<{ id: string }>('id'));
