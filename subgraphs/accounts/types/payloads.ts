import type { FieldMap } from '@pothos/core';
import type { SubgraphSchemaTypes } from '../../common/builder';
import type { UserError } from '../../common/errors';
import { payloadTypeFactory } from '../../common/user-error';
import { builder } from '../builder';
import type { AccountsContext } from '../context';
import { UserErrorType } from './user-error';

/** A mutation's `…Payload` type in this subgraph (see the kit's `payloadTypeFactory`). */
export const payloadType = payloadTypeFactory(builder, UserErrorType);

type FieldBuilder<P> = PothosSchemaTypes.ObjectFieldBuilder<
  PothosSchemaTypes.ExtendDefaultTypes<SubgraphSchemaTypes<AccountsContext>>,
  P
>;

/**
 * The payload of a sign-in, session, password or two-factor mutation. Its `userErrors` speak of
 * the request rather than of the input (a spent token, a code not accepted), and its results may
 * be non-null or several (`success`, `recoveryCodes`): shapes the kit's `payloadType` does not
 * make, so `fields` are given whole and `userErrors` added last.
 */
export function requestPayloadType<P extends { userErrors: UserError[] }>(
  name: string,
  description: string,
  fields: (t: FieldBuilder<P>) => FieldMap,
) {
  return builder.objectRef<P>(name).implement({
    description,
    fields: (t) => ({
      ...fields(t),
      userErrors: t.field({
        type: [UserErrorType],
        description: 'Why the request was refused; empty on success.',
        resolve: (payload) => payload.userErrors,
      }),
    }),
  });
}
