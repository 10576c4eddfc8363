import type { EventRow } from '../../db/events/schema';
import type { BaseContext } from '../common/context';
import type { Encryptor } from '../common/encryption';
import type { EventsConfig } from './config';
import type { Dispatcher } from './delivery/dispatcher';
import type { EventsLoaders, EventsStorage } from './storage';

export interface EventsContext extends BaseContext {
  settings: EventsConfig;
  storage: EventsStorage;
  loaders: EventsLoaders;
  /** Encrypts webhook signing secrets at rest. */
  encryptor: Encryptor;
  dispatcher: Dispatcher;
  /** After the commit that recorded them: tells subscribers and wakes the delivery workers. */
  recorded(events: EventRow[]): void;
}
