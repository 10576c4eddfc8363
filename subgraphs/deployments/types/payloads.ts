import type { UserError } from '../../common/errors';
import { builder } from '../builder';
import { UserErrorType } from './user-error';

/**
 * A mutation's `…Payload`: the one thing it returns (null or empty when refused) and the
 * `userErrors` every payload carries, so each mutation states only what is its own.
 */
export function payloadType<T extends { userErrors: UserError[] }>(
  name: string,
  description: string,
  result: { field: keyof T & string; type: unknown; description: string; list?: boolean },
) {
  return builder.objectRef<T>(name).implement({
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
        type: [UserErrorType],
        description: 'Why the input was refused; empty on success.',
        resolve: (payload) => payload.userErrors,
      }),
    }),
  });
}
