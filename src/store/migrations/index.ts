import { PresenceSchema1732406400000 } from './1732406400000-presence-schema.js';
import { PresenceChannels1732492800000 } from './1732492800000-presence-channels.js';
import { ScPresenceUpgrade1732665600000 } from './1732665600000-sc-presence-upgrade.js';
import { PresenceRetention1733011200000 } from './1733011200000-presence-retention.js';
import { PresenceStatusSeen1733097600000 } from './1733097600000-presence-status-seen.js';
import { PresenceSessionState1733140800000 } from './1733140800000-presence-session-state.js';
import { PresenceHistory1733270400000 } from './1733270400000-presence-history.js';
import { PresenceRoomGrace1733356800000 } from './1733356800000-presence-room-grace.js';

/** Every migration of the module, oldest first (what the TypeORM CLI and the startup runner execute). */
export const presenceMigrations = [
  PresenceSchema1732406400000, PresenceChannels1732492800000, ScPresenceUpgrade1732665600000, PresenceRetention1733011200000,
  PresenceStatusSeen1733097600000, PresenceSessionState1733140800000, PresenceHistory1733270400000, PresenceRoomGrace1733356800000,
];
