/** Platform fee: 5 % of the amount, in basis points to stay in integers. */
export const PLATFORM_FEE_BASIS_POINTS = 500;

/**
 * The platform's application fee for an amount, both in integer cents. 5 % rounded half up to the
 * nearest cent, computed in integers only: `floor((amount × 500 + 5 000) / 10 000)`.
 * E.g. 12 500 → 625, 12 345 → 617 (617.25), 10 → 1 (0.5 rounds up), 9 → 0 (0.45).
 */
export function platformFeeCents(amountCents: number): number {
  if (!Number.isSafeInteger(amountCents) || amountCents < 0) {
    throw new RangeError("amount must be a non-negative integer number of cents");
  }
  return Math.floor((amountCents * PLATFORM_FEE_BASIS_POINTS + 5_000) / 10_000);
}

/** "EUR 125.00" */
export function formatMoney(cents: number, currency: string): string {
  return `${currency.toUpperCase()} ${(cents / 100).toFixed(2)}`;
}
