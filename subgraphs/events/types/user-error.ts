import { addUserErrorType } from '../../common/user-error';
import { builder } from '../builder';

export const UserErrorType = addUserErrorType(builder);
