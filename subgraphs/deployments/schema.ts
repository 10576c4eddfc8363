import { builder } from './builder';
import './types/organization';
import './types/project';
import './types/create-project';

builder.queryType({ description: 'Read the graph.' });
builder.mutationType({ description: 'Change the graph.' });

export const schema = builder.toSubGraphSchema({ linkUrl: 'https://specs.apollo.dev/federation/v2.6' });
