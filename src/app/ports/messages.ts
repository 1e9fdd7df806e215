// Text shown to people, rendered by the catalogue in the reader's locale, and the logger.

/** A message by catalogue key; rendered in the reader's locale only when it is sent. */
export interface MessageRef {
  key: string;
  params: Record<string, string | number>;
}

export interface MessageCatalog {
  render(locale: string | null, msg: MessageRef): string;
}

export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  /** Routine events nobody needs to act on (a job that gave its slot to a higher lane). Optional. */
  debug?(obj: object, msg?: string): void;
}
