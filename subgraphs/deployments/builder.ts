import { createBuilder } from '../common/builder';
import type { DeploymentsContext } from './context';

export const builder = createBuilder<DeploymentsContext>();
