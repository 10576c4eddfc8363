import { builder } from './builder';
import './types/organization';
import './types/user';
import './types/enums';
import './types/environment';
import './types/deployment';
import './types/project';
import './types/project-mutations';
import './types/environment-mutations';
import './types/deployment-mutations';
import './types/subscriptions';

builder.queryType({ description: 'Read the graph.' });
builder.mutationType({ description: 'Change the graph.' });

export const schema = builder.toSubGraphSchema({ linkUrl: 'https://specs.apollo.dev/federation/v2.6' });
