import { GraphQLError } from 'graphql';
import type { z } from 'zod';
import type { Caller } from './caller';

/** Codes of errors a user can fix, returned as data in `payload.userErrors`. */
export const userErrorCodes = [
  'INVALID',
  'TAKEN',
  'NOT_FOUND',
  'FORBIDDEN',
  'LIMIT_REACHED',
  'CONFLICT',
] as const;
export type UserErrorCode = (typeof userErrorCodes)[number];

export interface UserError {
  /** Path to the input field at fault, e.g. `['input', 'slug']`; empty when no one field is. */
  field: string[];
  message: string;
  code: UserErrorCode;
}

export function userError(field: string[], message: string, code: UserErrorCode = 'INVALID'): UserError {
  return { field, message, code };
}

/** zod issues as user errors, with the field path under `input`. */
export function userErrorsFromZod(error: z.ZodError, root = 'input'): UserError[] {
  return error.issues.map((issue) => ({
    field: [root, ...issue.path.map(String)],
    message: issue.message,
    code: 'INVALID' as const,
  }));
}

/** Error codes of GraphQL errors (`extensions.code`), per the API conventions. */
export type ErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'BAD_USER_INPUT'
  | 'RATE_LIMITED'
  | 'INTERNAL_SERVER_ERROR';

export function graphqlError(
  code: ErrorCode,
  message: string,
  extensions: Record<string, unknown> = {},
): GraphQLError {
  return new GraphQLError(message, { extensions: { code, ...extensions } });
}

export const badUserInput = (message: string, argument?: string) =>
  graphqlError('BAD_USER_INPUT', message, argument ? { argument } : {});

/** UNAUTHENTICATED for an anonymous caller (signing in may help), FORBIDDEN otherwise. */
export function refusal(caller: Caller, message = 'You are not allowed to do this.') {
  return caller.kind === 'anonymous'
    ? graphqlError('UNAUTHENTICATED', 'Sign in to do this.')
    : graphqlError('FORBIDDEN', message);
}
