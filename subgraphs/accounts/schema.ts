import { builder } from './builder';
import './types/user';
import './types/caller-access';
import './identity/index';
import './teams/index';

builder.queryType({ description: 'Read the graph.' });
builder.mutationType({ description: 'Change the graph.' });

export const schema = builder.toSubGraphSchema({ linkUrl: 'https://specs.apollo.dev/federation/v2.6' });
