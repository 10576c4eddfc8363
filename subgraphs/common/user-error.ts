import type { FieldMap } from '@pothos/core';
import type { createBuilder, SubgraphSchemaTypes } from './builder';
import type { Scope } from './context';
import { userErrorCodes } from './error-codes';
import type { UserError } from './errors';

type Builder<T extends Scope<unknown>> = ReturnType<typeof createBuilder<T>>;

/**
 * `UserError` and its code enum, identical in every subgraph (so shareable in the supergraph):
 * the expected failures of a mutation, returned as data in `payload.userErrors`.
 */
export function addUserErrorType<T extends Scope<unknown>>(builder: Builder<T>) {
  const UserErrorCode = builder.enumType('UserErrorCode', {
    description: 'Why a mutation refused its input.',
    values: Object.fromEntries(
      Object.entries(userErrorCodes).map(([code, description]) => [code, { description }]),
    ) as Record<keyof typeof userErrorCodes, { description: string }>,
  });

  return builder.objectRef<UserError>('UserError').implement({
    description: 'An expected failure a user can fix, such as an invalid or taken value.',
    shareable: true,
    fields: (t) => ({
      field: t.exposeStringList('field', {
        description:
          'Path to the input field at fault, e.g. `["input", "slug"]`; empty when no single field is.',
      }),
      message: t.exposeString('message', {
        description: 'What is wrong, in a sentence a person can act on.',
      }),
      code: t.field({
        type: UserErrorCode,
        description: 'A stable code to branch on.',
        resolve: (e) => e.code,
      }),
    }),
  });
}

/**
 * Makes a subgraph's `…Payload` types: the one thing a mutation returns (null or empty when
 * refused) and the `userErrors` every payload carries, so each mutation states only what is its own.
 */
export function payloadTypeFactory<T extends Scope<unknown>>(
  builder: Builder<T>,
  userErrorType: ReturnType<typeof addUserErrorType<T>>,
) {
  type Types = PothosSchemaTypes.ExtendDefaultTypes<SubgraphSchemaTypes<T>>;
  return function payloadType<P extends { userErrors: UserError[] }>(
    name: string,
    description: string,
    result: { field: keyof P & string; type: unknown; description: string; list?: boolean },
    /** Further fields beside the result (a secret shown once, the key a rotation replaced). */
    more?: (t: PothosSchemaTypes.ObjectFieldBuilder<Types, P>) => FieldMap,
  ) {
    return builder.objectRef<P>(name).implement({
      description,
      fields: (t) => ({
        [result.field]: t.field({
          // The result's type varies per payload; Pothos checks it when the schema is built.
          type: (result.list ? [result.type] : result.type) as never,
          nullable: !result.list,
          description: result.description,
          resolve: (payload) => payload[result.field] as never,
        }),
        ...more?.(t),
        userErrors: t.field({
          type: [userErrorType],
          description: 'Why the input was refused; empty on success.',
          resolve: (payload) => payload.userErrors,
        }),
      }),
    });
  };
}
