import { builder } from '../builder';

/** Organizations belong to accounts; developer knows their id and adds their API keys. */
export const OrganizationRef = builder.externalRef('Organization', builder.selection<{ id: string }>('id'));
