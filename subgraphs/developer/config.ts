import { defineSettings } from '../common/config';

/** Developer reads no variables of its own: everything it needs is the kit's (see .env.example). */
export const developerSettings = defineSettings('subgraph developer', {});

export type DeveloperSettings = ReturnType<typeof developerSettings.parse>;
