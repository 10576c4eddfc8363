/**
 * Every error code a Construct process puts in `extensions.code` (GraphQL errors) or in the
 * `error.code` of a JSON answer beside GraphQL, with what it means and its HTTP status where
 * one applies. A client branches on these: they are API, like the schema. The README's error
 * section is generated from this list (`npm run docs`, checked by `docs:check`).
 *
 * Functions that make errors take an `ErrorCode`, so a code that is not listed here does not
 * compile. Codes that come from elsewhere (GraphQL itself, Yoga) are listed too, marked `from`,
 * since clients see them just the same.
 */
export const errorCodes = {
  UNAUTHENTICATED: {
    status: 401,
    description:
      'No valid credential: sign in (a bearer access token) or send a valid API key. Also a subgraph asked directly, without the gateway’s credential.',
  },
  FORBIDDEN: {
    status: 403,
    description: 'Signed in, but your role (or your API key’s scope) does not allow this.',
  },
  NOT_FOUND: {
    description:
      'The thing asked for does not exist, or you may not know that it does (the answer is the same).',
  },
  BAD_USER_INPUT: {
    status: 400,
    description:
      'An argument is invalid where no `userErrors` can say so (a cursor this list did not give out, `first` above 100); `extensions.argument` names it.',
  },
  RATE_LIMITED: {
    status: 429,
    description:
      'Over the rate limit: nothing was executed. `extensions.retryAfterSeconds` (and the `Retry-After` header) say when to try again.',
  },
  INTERNAL_SERVER_ERROR: {
    status: 500,
    description: 'A fault of ours, logged with the request id; no detail leaves the server. Retry later.',
  },
  DOWNSTREAM_SERVICE_ERROR: {
    description:
      'One subgraph failed or timed out: the fields it owns are null, the rest of the answer stands.',
  },
  GRAPHQL_PARSE_FAILED: {
    status: 400,
    from: 'GraphQL Yoga',
    description: 'The document is not GraphQL.',
  },
  GRAPHQL_VALIDATION_FAILED: {
    status: 400,
    from: 'GraphQL Yoga, and the gateway’s request limits',
    description:
      'The document does not fit the schema, or exceeds a request limit (depth, aliases, tokens, directives, cost).',
  },
  BAD_REQUEST: {
    status: 400,
    from: 'GraphQL Yoga, and the internal event routes',
    description:
      'The HTTP request is not one the endpoint takes (no query, a GET without the CSRF header, a body that is not JSON).',
  },
  PAYLOAD_TOO_LARGE: {
    status: 413,
    description: 'The request body is larger than the endpoint reads.',
  },
  METHOD_NOT_ALLOWED: {
    status: 405,
    description: 'An internal endpoint asked with the wrong HTTP method.',
  },
  SHUTTING_DOWN: {
    status: 503,
    description: 'The process is stopping: retry the request, or subscribe again (another replica answers).',
  },
  SCHEMA_RELOADED: {
    description: 'The gateway loaded a new supergraph: the subscription ended; subscribe again.',
  },
} as const satisfies Record<string, { status?: number; from?: string; description: string }>;

export type ErrorCode = keyof typeof errorCodes;

/** The HTTP status an error code answers with, where it decides one. */
export function httpStatusOf(code: ErrorCode): number | undefined {
  const entry = errorCodes[code];
  return 'status' in entry ? entry.status : undefined;
}

/**
 * Why a mutation refused its input, as data (`payload.userErrors[].code`): failures a user can
 * fix. They are values of the `UserErrorCode` enum every subgraph shares.
 */
export const userErrorCodes = {
  INVALID: 'The value does not meet the field’s rules.',
  TAKEN: 'The value must be unique and is already in use.',
  NOT_FOUND: 'The input names something that does not exist or that you cannot see.',
  FORBIDDEN: 'Your role does not allow this change.',
  LIMIT_REACHED: 'A plan or quota limit prevents this change.',
  CONFLICT: 'The object is not in a state that allows this change.',
} as const;

export type UserErrorCode = keyof typeof userErrorCodes;
