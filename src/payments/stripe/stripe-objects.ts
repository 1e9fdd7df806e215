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
  /** mode=subscription: the subscription the session created, and its first invoice (both null before it completes). */
  subscription: ref,
  invoice: ref,
  customer: ref,
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
  /**
   * The invoice this charge paid (a subscription's charge), null for any other charge — at API versions up to
   * 2025-02-24.acacia, our pinned 2024-06-20 among them. 2025-03-31.basil removed the field (and PaymentIntent's
   * `invoice`, and Invoice's `charge` and `payment_intent`, for `invoice.payments`): absent (undefined) means the
   * event was rendered at a newer version and the charge must be read again at ours to know.
   * Sources: docs.stripe.com/api/charges/object (2024-06-20): `invoice`; docs.stripe.com/changelog/basil/2025-03-31/
   * add-support-for-multiple-partial-payments-on-invoices ("Removed the invoice field from the PaymentIntent and
   * Charge objects").
   */
  invoice: z
    .union([z.string(), z.object({ id: z.string() }).passthrough()])
    .nullable()
    .optional()
    .transform((v) => (v === undefined ? undefined : v === null ? null : typeof v === 'string' ? v : v.id)),
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

/**
 * An invoice, as API 2024-06-20 (pinned) gives it: `subscription` and `subscription_details.metadata` (a snapshot of
 * the subscription's metadata when the invoice was made; "populated only for invoices created on or after June 29,
 * 2023"). From 2025-03-31.basil on, both moved under `parent.subscription_details` (`subscription`, `metadata`):
 * read either, so an account whose webhook endpoint is on a newer version still works (events are rendered in the
 * endpoint's version, not the one our calls pin). `lines.data[].period.end` is the end of the service period the
 * line pays for (a subscription_cycle invoice's own `period_end` is the start of that period: its usage window).
 * Sources: docs.stripe.com/api/invoices/object; stripe-java Invoice.SubscriptionDetails;
 * async-stripe BillingBillResourceInvoicingParentsInvoiceSubscriptionParent.
 */
export const Invoice = z.object({
  id: z.string().regex(/^in_/),
  object: z.literal('invoice'),
  billing_reason: z.string().nullish(),
  subscription: ref,
  subscription_details: z.object({ metadata }).nullish(),
  parent: z
    .object({ subscription_details: z.object({ subscription: ref, metadata }).nullish() })
    .passthrough()
    .nullish(),
  customer: ref,
  amount_paid: int,
  amount_due: int,
  currency: z.string(),
  status: z.string().nullish(),
  hosted_invoice_url: z.string().nullish(),
  payment_intent: ref,
  lines: z.object({ data: z.array(z.object({ period: z.object({ start: int, end: int }) }).passthrough()) }),
  status_transitions: z.object({ paid_at: int.nullish() }).passthrough().nullish(),
  created: int,
});
export type Invoice = z.infer<typeof Invoice>;

/** A subscription (docs.stripe.com/api/subscriptions/object): its state and whether it ends at the period's end. */
export const Subscription = z.object({
  id: z.string().regex(/^sub_/),
  object: z.literal('subscription'),
  status: z.string(),
  cancel_at_period_end: z.boolean(),
  customer: ref,
  /** The newest invoice the subscription made (docs.stripe.com/api/subscriptions/object#subscription_object-latest_invoice). */
  latest_invoice: ref.optional(),
  metadata,
});
export type Subscription = z.infer<typeof Subscription>;

/** A Customer Portal session (docs.stripe.com/api/customer_portal/sessions/create): only its URL is used. */
export const PortalSession = z.object({
  id: z.string().regex(/^bps_/),
  object: z.literal('billing_portal.session'),
  url: z.string().regex(/^https?:\/\//),
});

export const list = <T extends z.ZodType>(item: T) => z.object({ object: z.literal('list'), data: z.array(item), has_more: z.boolean() });

/** The envelope of every webhook event; `data.object` is parsed per type. */
export const StripeEvent = z.object({
  id: z.string().min(1).max(255),
  object: z.literal('event'),
  type: z.string().min(1).max(255),
  created: int,
  livemode: z.boolean(),
  account: z.string().nullish(),
  /** `previous_attributes`: on *.updated events, the fields that changed and their values before (docs.stripe.com/api/events/object). */
  data: z.object({ object: z.record(z.string(), z.unknown()), previous_attributes: z.record(z.string(), z.unknown()).nullish() }),
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
