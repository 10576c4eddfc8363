import { builder } from './builder';
import './types/organization';
import './types/user';
import './types/enums';
import './types/event-type-info';
import './types/event';
import './types/webhook-delivery-attempt';
import './types/webhook-delivery';
import './types/webhook-endpoint';
import './types/webhook-mutations';
import './types/event-subscriptions';

builder.queryType({ description: 'Read the graph.' });
builder.mutationType({ description: 'Change the graph.' });

export const schema = builder.toSubGraphSchema({ linkUrl: 'https://specs.apollo.dev/federation/v2.6' });
