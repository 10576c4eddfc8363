import { createBuilder } from '../common/builder';
import type { DeveloperContext } from './context';

export const builder = createBuilder<DeveloperContext>();
