import { payloadTypeFactory } from '../../common/user-error';
import { builder } from '../builder';
import { UserErrorType } from './user-error';

/** A mutation's `…Payload` type in this subgraph (see the kit's `payloadTypeFactory`). */
export const payloadType = payloadTypeFactory(builder, UserErrorType);
