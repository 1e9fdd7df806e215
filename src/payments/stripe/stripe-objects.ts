// The parts of Stripe's objects we read, as zod schemas. Unknown fields are dropped; a field we rely on
// that is missing or of the wrong type fails the parse. Enumerations Stripe may extend (statuses) are
// plain strings so a new value is handled as "not what we are waiting for" instead of a parse error.
import { z } from 'zod';

const int = z.number().int();
const metadata = z
  .record(z.string(), z.string())
  .nullish()
  .transform((m) => m ?? {});
/** An id, or the object it names when expanded. */
const ref = z
  .union([z.string(), z.object({ id: z.string() }).passthrough()])
  .nullish()
  .transform((v) => (v == null ? null : typeof v === 'string' ? v : v.id));

export const Session = z.object({
  id: z.string().regex(/^cs_/),
  object: z.literal('checkout.session'),
  url: z.string().nullish(),
  mode: z.string(),
  status: z.string().nullish(),
  payment_status: z.string(),
  payment_intent: ref,
  amount_total: int.nullish(),
  currency: z.string().nullish(),
  client_reference_id: z.string().nullish(),
  metadata,
  created: int,
  expires_at: int,
  livemode: z.boolean(),
});
export type Session = z.infer<typeof Session>;

/** The part of a refund a charge's `refunds` list gives us. */
const ChargeRefund = z.object({ id: z.string().regex(/^(re|pyr)_/), object: z.literal('refund'), amount: int });

export const Charge = z.object({
  id: z.string().regex(/^(ch|py)_/),
  object: z.literal('charge'),
  amount: int,
  amount_refunded: int,
  currency: z.string(),
  refunded: z.boolean(),
  status: z.string().optional(),
  payment_intent: ref,
  metadata,
  created: int,
  /** Only on API versions before 2022-11-15 or when expanded; newest first. Optional: never relied on. */
  refunds: z
    .object({ object: z.literal('list'), data: z.array(ChargeRefund) })
    .nullish()
    .catch(null),
});
export type Charge = z.infer<typeof Charge>;

export const PaymentIntent = z.object({
  id: z.string().regex(/^pi_/),
  object: z.literal('payment_intent'),
  status: z.string(),
  amount: int,
  currency: z.string(),
  created: int,
  latest_charge: z.union([z.string(), Charge]).nullish(),
});
export type PaymentIntent = z.infer<typeof PaymentIntent>;

export const Refund = z.object({
  id: z.string().regex(/^(re|pyr)_/),
  object: z.literal('refund'),
  amount: int,
  currency: z.string(),
  status: z.string().nullish(),
  payment_intent: ref,
  charge: ref,
  metadata,
  failure_reason: z.string().nullish(),
  created: int,
});
export type Refund = z.infer<typeof Refund>;

export const list = <T extends z.ZodType>(item: T) => z.object({ object: z.literal('list'), data: z.array(item), has_more: z.boolean() });

/** The envelope of every webhook event; `data.object` is parsed per type. */
export const StripeEvent = z.object({
  id: z.string().min(1).max(255),
  object: z.literal('event'),
  type: z.string().min(1).max(255),
  created: int,
  livemode: z.boolean(),
  account: z.string().nullish(),
  data: z.object({ object: z.record(z.string(), z.unknown()) }),
});
export type StripeEvent = z.infer<typeof StripeEvent>;

/** Stripe's error body: `{"error": {"type", "code"?, "message"?, "param"?}}`. */
export const StripeErrorBody = z.object({
  error: z.object({
    type: z.string(),
    code: z.string().nullish(),
    message: z.string().nullish(),
    param: z.string().nullish(),
    decline_code: z.string().nullish(),
  }),
});
