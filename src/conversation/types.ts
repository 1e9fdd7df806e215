// The platform-neutral shape of a conversation: what a person sent, and what the bot answers.
// Adapters (Telegram, WeChat, playground) translate their updates into `Inbound` and render `Reply`.
import type { Platform } from '../app/model.ts';

export interface Inbound {
  platform: Platform;
  /** The person's id on the platform (private chat). */
  userId: string;
  displayName?: string | null;
  /** The platform's language code, if it tells us (Telegram `language_code`). */
  locale?: string | null;
  /** The platform's public handle (Telegram `username`, null when the person has none); undefined: the platform has no such thing. */
  username?: string | null;
  /** Typed text. */
  text?: string;
  /** The `value` of a choice the person picked (a button press); WeChat sends numbers as text instead. */
  choice?: string;
}

export interface ChoiceOption {
  value: string;
  label: string;
}

/** Neutral replies: each adapter renders them its own way (inline keyboard, numbered text menu, buttons). */
export type Reply =
  | { type: 'text'; text: string }
  | { type: 'choices'; text: string; choices: ChoiceOption[] }
  | { type: 'image'; png: Buffer; caption: string; /** Where the image leads when opened (the pay page). */ url?: string }
  | { type: 'link'; text: string; url: string; label: string };

export interface Conversation {
  handle(msg: Inbound): Promise<Reply[]>;
}
