// A plan's price on each rail: the list price in its own currency, a Stars price that is the owner's or
// derived from STARS_PER_UNIT (rounded up to a whole star), and clear refusals for bad rates and prices.
import { describe, expect, it } from 'vitest';
import { MAX_STARS_PRICE, parseStarsPrice, parseStarsRates, priceIn, starsPriceOf } from '../../src/domain/pricing.ts';

const rates = parseStarsRates('CNY=7.5, usd=55,JPY=0.35');
const plan = (priceMinor: number, currency: string, starsPrice: number | null = null) => ({ priceMinor, currency, starsPrice });

describe('STARS_PER_UNIT', () => {
  it('reads CURRENCY=rate pairs as exact fractions', () => {
    expect([...rates]).toEqual([
      ['CNY', { num: 75, den: 10 }],
      ['USD', { num: 55, den: 1 }],
      ['JPY', { num: 35, den: 100 }],
    ]);
    expect(parseStarsRates('')).toEqual(new Map());
  });
  it.each([
    ['CNY', 'each entry must be CURRENCY=stars-per-unit'],
    ['CNY=', 'each entry must be CURRENCY=stars-per-unit'],
    ['CNY=-1', 'each entry must be CURRENCY=stars-per-unit'],
    ['CNY=1.23456', 'each entry must be CURRENCY=stars-per-unit'],
    ['CNY=1e3', 'each entry must be CURRENCY=stars-per-unit'],
    ['ABC=1', 'unknown currency'],
    ['XTR=1', 'XTR is Stars already'],
    ['CNY=7,CNY=8', 'CNY is given twice'],
    ['CNY=0', 'the rate for CNY must be more than zero'],
  ])('refuses %s', (text, message) => {
    expect(() => parseStarsRates(text)).toThrow(message);
  });
});

describe('the Stars price of a plan', () => {
  it('is the owner’s price when set, whatever the rate says', () => {
    expect(starsPriceOf(plan(990, 'CNY', 80), rates)).toBe(80);
  });
  it('is the list price of a plan priced in Stars', () => {
    expect(starsPriceOf(plan(250, 'XTR'), rates)).toBe(250);
  });
  it('converts at the rate and rounds up to a whole star (the owner never gets less than the list price)', () => {
    expect(starsPriceOf(plan(990, 'CNY'), rates)).toBe(75); // 9.90 × 7.5 = 74.25
    expect(starsPriceOf(plan(1000, 'CNY'), rates)).toBe(75); // exactly 75
    expect(starsPriceOf(plan(999, 'USD'), rates)).toBe(550); // 9.99 × 55 = 549.45
    expect(starsPriceOf(plan(100, 'JPY'), rates)).toBe(35); // JPY has no minor unit
    expect(starsPriceOf(plan(1, 'CNY'), rates)).toBe(1); // never zero
  });
  it('is exact for large prices (no floating point)', () => {
    expect(starsPriceOf(plan(10_000_000_000, 'CNY'), rates)).toBe(750_000_000);
  });
  it('does not exist without an own price or a rate', () => {
    expect(starsPriceOf(plan(990, 'EUR'), rates)).toBeNull();
  });
  it('is what the Stars rail charges; other rails charge the list price in its currency only', () => {
    expect(priceIn(plan(990, 'CNY'), 'XTR', rates)).toEqual({ amountMinor: 75, currency: 'XTR' });
    expect(priceIn(plan(990, 'CNY'), 'CNY', rates)).toEqual({ amountMinor: 990, currency: 'CNY' });
    expect(priceIn(plan(990, 'CNY'), 'USD', rates)).toBeNull();
    expect(priceIn(plan(990, 'EUR'), 'XTR', rates)).toBeNull();
  });
});

describe('an owner’s Stars price', () => {
  it('is a whole number of stars within bounds', () => {
    expect(parseStarsPrice('120')).toBe(120);
    expect(parseStarsPrice(1)).toBe(1);
    expect(parseStarsPrice(String(MAX_STARS_PRICE))).toBe(MAX_STARS_PRICE);
  });
  it.each(['0', '-5', '1.5', 'ten', '', String(MAX_STARS_PRICE + 1)])('refuses %j', (bad) => {
    expect(() => parseStarsPrice(bad)).toThrow(/a Stars price must be/);
  });
});
