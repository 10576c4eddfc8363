import { GraphQLError } from 'graphql';
import type { z } from 'zod';
import type { Caller } from './caller';
import type { ErrorCode, UserErrorCode } from './error-codes';

export type { ErrorCode, UserErrorCode } from './error-codes';

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

/** The body of a JSON answer that ends a request before GraphQL runs (413, 500, 503). */
export function errorResponseBody(code: ErrorCode, message: string) {
  return { errors: [{ message, extensions: { code } }] };
}

/** A GraphQL error with a code of the registry (`error-codes.ts`), for the client to branch on. */
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
