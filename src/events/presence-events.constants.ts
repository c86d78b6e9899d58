export const PRESENCE_EVENT_METADATA = 'nestjs-sc-presence:events';
