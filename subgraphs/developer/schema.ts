import { builder } from './builder';
import './types/organization';
import './types/user';
import './types/enums';
import './types/api-key';
import './types/api-key-mutations';
import './types/api-key-principal';
import './types/quota';

builder.queryType({ description: 'Read the graph.' });
builder.mutationType({ description: 'Change the graph.' });

export const schema = builder.toSubGraphSchema({ linkUrl: 'https://specs.apollo.dev/federation/v2.6' });
