import { createBuilder } from '../common/builder';
import type { AccountsContext } from './context';

export const builder = createBuilder<AccountsContext>();
