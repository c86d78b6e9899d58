import { PresenceSchema1732406400000 } from './1732406400000-presence-schema.js';

/** Every migration of the module, oldest first (what the TypeORM CLI and the startup runner execute). */
export const presenceMigrations = [PresenceSchema1732406400000];
