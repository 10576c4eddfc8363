import { JSONObjectResolver } from 'graphql-scalars';
import { createBuilder } from '../common/builder';
import type { EventsContext } from './context';

export const builder = createBuilder<EventsContext>();

type Types = typeof builder extends PothosSchemaTypes.SchemaBuilder<infer T> ? T : never;
type JsonObject = Record<string, unknown>;

/**
 * The kit's builder declares only the scalars every subgraph shares, so this one is added under
 * a cast and used through its ref. Composition requires every subgraph that defines
 * `JSONObject` to define it alike, hence graphql-scalars' own.
 */
export const JSONObjectScalar = builder.addScalarType('JSONObject' as 'DateTime', JSONObjectResolver, {
  description: 'A JSON object, passed through as is.',
}) as unknown as PothosSchemaTypes.ScalarRef<Types, JsonObject, JsonObject>;
