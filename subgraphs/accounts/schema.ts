import { builder } from './builder';
// In this order: the fields of Query, Mutation and User follow it.
import './types/caller-access';
import './types/user';
import './types/sign-in';
import './types/session';
import './types/session-mutations';
import './types/password-reset';
import './types/two-factor';
import './types/organization';
import './types/membership';
import './types/invitation';
import './types/organization-mutations';
import './types/invitation-mutations';
import './types/member-mutations';
import './types/project';

builder.queryType({ description: 'Read the graph.' });
builder.mutationType({ description: 'Change the graph.' });

export const schema = builder.toSubGraphSchema({ linkUrl: 'https://specs.apollo.dev/federation/v2.6' });
