import type { SubgraphContext } from '../common/context';
import type { EventsServices } from './services';
import type { EventsLoaders } from './storage';

export type EventsContext = SubgraphContext<EventsServices, EventsLoaders>;
