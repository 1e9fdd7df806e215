// The ports the use cases need, by role: chat platforms (ports/chat.ts), payment providers
// (ports/payments.ts), the store (ports/store.ts), text and logs (ports/messages.ts). Adapters
// (store/, payments/, bots/, jobs/) implement them; the use cases never see a framework, a driver or a
// protocol. Import from here. The chat adapters' own tables are not core ports: see bots/*/store-port.ts.
import type { Clock } from '../domain/time.ts';

export type { Clock };
export * from './ports/chat.ts';
export * from './ports/payments.ts';
export * from './ports/store.ts';
export * from './ports/messages.ts';
