import type { createBuilder } from './builder';
import type { BaseContext } from './context';
import type { UserError, userErrorCodes } from './errors';

type Builder<T extends BaseContext> = ReturnType<typeof createBuilder<T>>;

/**
 * `UserError` and its code enum, identical in every subgraph (so shareable in the supergraph):
 * the expected failures of a mutation, returned as data in `payload.userErrors`.
 */
export function addUserErrorType<T extends BaseContext>(builder: Builder<T>) {
  const UserErrorCode = builder.enumType('UserErrorCode', {
    description: 'Why a mutation refused its input.',
    values: {
      INVALID: { description: 'The value does not meet the field’s rules.' },
      TAKEN: { description: 'The value must be unique and is already in use.' },
      NOT_FOUND: { description: 'The input names something that does not exist or that you cannot see.' },
      FORBIDDEN: { description: 'Your role does not allow this change.' },
      LIMIT_REACHED: { description: 'A plan or quota limit prevents this change.' },
      CONFLICT: { description: 'The object is not in a state that allows this change.' },
    } satisfies Record<(typeof userErrorCodes)[number], { description: string }>,
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
export function payloadTypeFactory<T extends BaseContext>(
  builder: Builder<T>,
  userErrorType: ReturnType<typeof addUserErrorType<T>>,
) {
  return function payloadType<P extends { userErrors: UserError[] }>(
    name: string,
    description: string,
    result: { field: keyof P & string; type: unknown; description: string; list?: boolean },
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
        userErrors: t.field({
          type: [userErrorType],
          description: 'Why the input was refused; empty on success.',
          resolve: (payload) => payload.userErrors,
        }),
      }),
    });
  };
}
