import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DomainError } from '../../src/domain/errors.ts';
import { MAX_AMOUNT_MINOR, currencyExponent, formatMinor, formatMoney, isCurrency, normalizeCurrency, parsePrice } from '../../src/domain/money.ts';
import { expectDomainError } from './expect-domain-error.ts';

/** ISO 4217 minor-unit exponents, written out independently of src (XTR = Telegram Stars, whole units). */
const ISO_EXPONENTS: Record<string, number> = {
  CNY: 2,
  USD: 2,
  EUR: 2,
  GBP: 2,
  HKD: 2,
  TWD: 2,
  SGD: 2,
  AUD: 2,
  CAD: 2,
  CHF: 2,
  MYR: 2,
  THB: 2,
  RUB: 2,
  INR: 2,
  BRL: 2,
  MXN: 2,
  NZD: 2,
  SEK: 2,
  NOK: 2,
  DKK: 2,
  PLN: 2,
  TRY: 2,
  AED: 2,
  PHP: 2,
  IDR: 2,
  JPY: 0,
  KRW: 0,
  VND: 0,
  CLP: 0,
  ISK: 0,
  XTR: 0,
  KWD: 3,
  BHD: 3,
  JOD: 3,
  OMR: 3,
  TND: 3,
};
const CURRENCIES = Object.keys(ISO_EXPONENTS);

/** Names that exist on every plain object: a lookup table must not mistake them for currencies. */
const PROTOTYPE_KEYS = ['toString', 'constructor', '__proto__', 'hasOwnProperty', 'valueOf', 'isPrototypeOf'];

const arbCurrency = fc.constantFrom(...CURRENCIES);

/** A valid amount in minor units for any of our currencies, with the edges weighted in. */
const arbMinor = fc.oneof(
  fc.integer({ min: 0, max: MAX_AMOUNT_MINOR }),
  fc.integer({ min: 0, max: 100_000 }),
  fc.constantFrom(0, 1, 9, 10, 99, 100, 101, 999, 1000, MAX_AMOUNT_MINOR - 1, MAX_AMOUNT_MINOR),
);

describe('currency table', () => {
  it.each(CURRENCIES)('%s has its ISO 4217 exponent', (code) => {
    expect(isCurrency(code)).toBe(true);
    expect(currencyExponent(code)).toBe(ISO_EXPONENTS[code]);
  });

  it('names the exponents the design calls out', () => {
    expect(currencyExponent('CNY')).toBe(2);
    expect(currencyExponent('USD')).toBe(2);
    expect(currencyExponent('JPY')).toBe(0);
    expect(currencyExponent('XTR')).toBe(0);
    expect(currencyExponent('KWD')).toBe(3);
  });

  it.each(['ABC', 'XXX', 'cny', 'Cny', ' CNY', 'CNY ', '', 'CN', 'CNYY', 'BTC', 'XAU'])('rejects non-canonical or unknown code %j', (code) => {
    expect(isCurrency(code)).toBe(false);
    expectDomainError(() => currencyExponent(code), 'invalid_input', /unknown currency/);
  });

  it.each(PROTOTYPE_KEYS)('does not take the object property %j for a currency', (code) => {
    expect(isCurrency(code)).toBe(false);
    expectDomainError(() => currencyExponent(code), 'invalid_input', /unknown currency/);
    expectDomainError(() => parsePrice('1', code), 'invalid_input', /unknown currency/);
    expectDomainError(() => formatMinor(100, code), 'invalid_input', /unknown currency/);
  });
});

describe('normalizeCurrency', () => {
  it.each([
    ['CNY', 'CNY'],
    ['cny', 'CNY'],
    ['Usd', 'USD'],
    ['  jpy  ', 'JPY'],
    ['\txtr\n', 'XTR'],
    ['kwd', 'KWD'],
  ])('%j → %s', (input, expected) => {
    expect(normalizeCurrency(input)).toBe(expected);
  });

  it.each(['', ' ', 'CN', 'CNYY', 'C NY', 'C1Y', '123', 'ABC', 'usd1', '¥', 'ＣＮＹ', 'toString', '__proto__', 'constructor'])(
    'rejects %j with invalid_input naming the input',
    (input) => {
      const err = expectDomainError(() => normalizeCurrency(input), 'invalid_input', /unknown currency/);
      expect(err.message).toContain(`"${input}"`);
    },
  );

  it('accepts every supported code in any letter case and padding, and nothing else of three letters', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z]{3}$/), fc.constantFrom('', ' ', '\t', '  '), fc.constantFrom('', ' ', '\n'), (code, pre, post) => {
        const upper = code.toUpperCase();
        if (Object.hasOwn(ISO_EXPONENTS, upper)) {
          expect(normalizeCurrency(pre + code + post)).toBe(upper);
        } else {
          expectDomainError(() => normalizeCurrency(pre + code + post), 'invalid_input');
        }
      }),
      { numRuns: 500 },
    );
  });

  it('its output is a fixed point and usable by parsePrice', () => {
    fc.assert(
      fc.property(arbCurrency, fc.boolean(), (code, lower) => {
        const n = normalizeCurrency(lower ? code.toLowerCase() : code);
        expect(normalizeCurrency(n)).toBe(n);
        expect(parsePrice('1', n)).toBe(10 ** ISO_EXPONENTS[code]!);
      }),
    );
  });
});

describe('parsePrice', () => {
  it.each([
    ['9.90', 'CNY', 990],
    ['9.9', 'CNY', 990],
    ['10', 'CNY', 1000],
    ['10.', 'CNY', null],
    ['0.01', 'CNY', 1],
    ['0.1', 'USD', 10],
    ['0', 'CNY', 0],
    ['0.00', 'USD', 0],
    ['007.50', 'USD', 750],
    ['1234.56', 'USD', 123456],
    ['100', 'JPY', 100],
    ['1', 'JPY', 1],
    ['2500', 'XTR', 2500],
    ['1.234', 'KWD', 1234],
    ['1.2', 'KWD', 1200],
    ['1.23', 'KWD', 1230],
    ['5', 'KWD', 5000],
    ['0.001', 'KWD', 1],
    [' 9.90 ', 'CNY', 990],
    ['\t9.90\n', 'CNY', 990],
  ] as const)('%j %s → %s', (text, currency, expected) => {
    if (expected === null) {
      expectDomainError(() => parsePrice(text, currency), 'invalid_input');
    } else {
      expect(parsePrice(text, currency)).toBe(expected);
    }
  });

  it.each(['-1', '-9.90', ' -5', '-0', '-0.01', '-'])('refuses negative %j', (text) => {
    const err = expectDomainError(() => parsePrice(text, 'CNY'), 'invalid_input', /negative/);
    expect(err.message).toContain(text);
  });

  it.each([
    '',
    ' ',
    '   ',
    '\t\n',
    'abc',
    'nine',
    '1e3',
    '1E3',
    '9.9e1',
    '+9',
    '9,90',
    '9.90.1',
    '.9',
    '9.',
    '.',
    '0x10',
    '0b1',
    'Infinity',
    'NaN',
    '1_000',
    '1 000',
    '9. 90',
    '¥9.90',
    '9.90元',
    '$1',
    '９.９０',
    '٩',
    'null',
    'undefined',
  ])('refuses non-numeric %j', (text) => {
    expectDomainError(() => parsePrice(text, 'CNY'), 'invalid_input');
  });

  it('keeps its error one line whatever the person typed (input is quoted and escaped)', () => {
    const e1 = expectDomainError(() => parsePrice('9.90\nDROP TABLE', 'CNY'), 'invalid_input');
    expect(e1.message).toContain('"9.90\\nDROP TABLE"');
    expectDomainError(() => parsePrice('-1\r\n', 'CNY'), 'invalid_input', /negative/);
    expectDomainError(() => parsePrice('9.999\n', 'CNY'), 'invalid_input', /decimal place/);
    expectDomainError(() => normalizeCurrency('cn\ny'), 'invalid_input', /unknown currency "cn\\ny"/);
    expectDomainError(() => currencyExponent('C\nY'), 'invalid_input', /unknown currency/);
    expect(parsePrice('9.90\n', 'CNY')).toBe(990); // surrounding whitespace, newlines included, is trimmed
  });

  it('says what shape a price has when it is not a number', () => {
    expectDomainError(() => parsePrice('1e3', 'CNY'), 'invalid_input', /decimal number like 9\.90/);
    expectDomainError(() => parsePrice('', 'CNY'), 'invalid_input', /decimal number/);
    expectDomainError(() => parsePrice(' ', 'CNY'), 'invalid_input', /decimal number/);
  });

  it.each([
    ['9.999', 'CNY', 2],
    ['9.901', 'USD', 2],
    ['9.900', 'CNY', 2],
    ['1.5', 'JPY', 0],
    ['1.0', 'JPY', 0],
    ['100.00', 'JPY', 0],
    ['1.5', 'XTR', 0],
    ['0.0001', 'KWD', 3],
    ['1.2345', 'BHD', 3],
  ] as const)('refuses too precise %j for %s', (text, currency, exp) => {
    const err = expectDomainError(() => parsePrice(text, currency), 'invalid_input', /decimal place/);
    expect(err.message).toContain(`${exp} decimal place`);
    expect(err.message).toContain(currency);
  });

  it('accepts exactly MAX_AMOUNT_MINOR and refuses one minor unit more', () => {
    expect(MAX_AMOUNT_MINOR).toBe(10_000_000_000);
    expect(Number.isSafeInteger(MAX_AMOUNT_MINOR)).toBe(true);
    expect(parsePrice('100000000.00', 'CNY')).toBe(MAX_AMOUNT_MINOR);
    expect(parsePrice('100000000', 'USD')).toBe(MAX_AMOUNT_MINOR);
    expect(parsePrice('10000000000', 'JPY')).toBe(MAX_AMOUNT_MINOR);
    expect(parsePrice('10000000', 'KWD')).toBe(MAX_AMOUNT_MINOR);
    expectDomainError(() => parsePrice('100000000.01', 'CNY'), 'invalid_input', /too large/);
    expectDomainError(() => parsePrice('10000000001', 'JPY'), 'invalid_input', /too large/);
    expectDomainError(() => parsePrice('10000000.001', 'KWD'), 'invalid_input', /too large/);
  });

  it.each([
    ['999999999999', 'CNY'],
    ['999999999999.99', 'USD'],
    ['999999999999', 'KWD'],
    ['999999999999', 'JPY'],
    ['100000001', 'CNY'],
  ] as const)('refuses too large %j %s', (text, currency) => {
    expectDomainError(() => parsePrice(text, currency), 'invalid_input', /too large/);
  });

  it.each(['1000000000000', '99999999999999999999', '1'.repeat(400)])('refuses an absurdly long number %j', (text) => {
    expectDomainError(() => parsePrice(text, 'CNY'), 'invalid_input');
    expectDomainError(() => parsePrice(text, 'JPY'), 'invalid_input');
  });

  it.each(['ABC', 'cny', '', 'toString'])('refuses unknown currency %j before looking at the text', (currency) => {
    expectDomainError(() => parsePrice('9.90', currency), 'invalid_input', /unknown currency/);
    expectDomainError(() => parsePrice('not a number', currency), 'invalid_input', /unknown currency/);
  });

  it('reads whole and fractional parts exactly for every currency', () => {
    fc.assert(
      fc.property(arbCurrency, fc.nat({ max: MAX_AMOUNT_MINOR }), fc.nat({ max: 3 }), fc.nat({ max: 2 }), (currency, amount, zeros, wholePad) => {
        const exp = ISO_EXPONENTS[currency]!;
        const unit = 10 ** exp;
        const whole = Math.floor(amount / unit);
        const frac = amount % unit;
        const wholeText = '0'.repeat(wholePad) + String(whole);
        let fracText = exp === 0 ? '' : String(frac).padStart(exp, '0');
        // Dropping trailing zeros of the fraction ("9.9" for 9.90) must not change the value.
        for (let i = 0; i < zeros && fracText.endsWith('0'); i++) fracText = fracText.slice(0, -1);
        const text = fracText ? `${wholeText}.${fracText}` : wholeText;
        if (wholeText.length > 12) return; // longer than the parser's whole-part limit; covered above
        expect(parsePrice(text, currency)).toBe(amount);
      }),
      { numRuns: 1000 },
    );
  });

  it('returns a safe integer in [0, MAX_AMOUNT_MINOR] or throws invalid_input, for any text at all', () => {
    const grammarChars = fc.constantFrom(...'0123456789.-+eE ,_\t'.split(''));
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.string({ unit: grammarChars, maxLength: 20 }), fc.string({ unit: 'binary', maxLength: 20 })),
        arbCurrency,
        (text, currency) => {
          let result: number | undefined;
          try {
            result = parsePrice(text, currency);
          } catch (e) {
            expect(e).toBeInstanceOf(DomainError);
            expect((e as DomainError).code).toBe('invalid_input');
            expect((e as DomainError).message).not.toMatch(/[\r\n]/);
            return;
          }
          expect(Number.isSafeInteger(result)).toBe(true);
          expect(result).toBeGreaterThanOrEqual(0);
          expect(result).toBeLessThanOrEqual(MAX_AMOUNT_MINOR);
          // Only plain ASCII decimals with at most `exp` fraction digits get through.
          const exp = ISO_EXPONENTS[currency]!;
          const m = /^\s*(\d+)(?:\.(\d+))?\s*$/.exec(text);
          expect(m).not.toBeNull();
          expect((m![2] ?? '').length).toBeLessThanOrEqual(exp);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('formatMinor / formatMoney', () => {
  it.each([
    [990, 'CNY', '9.90'],
    [1000, 'CNY', '10.00'],
    [5, 'CNY', '0.05'],
    [50, 'USD', '0.50'],
    [0, 'USD', '0.00'],
    [123456, 'USD', '1234.56'],
    [MAX_AMOUNT_MINOR, 'CNY', '100000000.00'],
    [100, 'JPY', '100'],
    [0, 'JPY', '0'],
    [2500, 'XTR', '2500'],
    [1234, 'KWD', '1.234'],
    [1, 'KWD', '0.001'],
    [1000, 'KWD', '1.000'],
    [-990, 'CNY', '-9.90'],
    [-5, 'CNY', '-0.05'],
    [-100, 'JPY', '-100'],
    [-1, 'KWD', '-0.001'],
  ] as const)('%d %s → %j', (amount, currency, text) => {
    expect(formatMinor(amount, currency)).toBe(text);
  });

  it('formatMoney appends the code', () => {
    expect(formatMoney(990, 'CNY')).toBe('9.90 CNY');
    expect(formatMoney(100, 'JPY')).toBe('100 JPY');
    expect(formatMoney(1, 'KWD')).toBe('0.001 KWD');
  });

  it.each(['ABC', 'cny', ''])('refuses unknown currency %j', (currency) => {
    expectDomainError(() => formatMinor(990, currency), 'invalid_input', /unknown currency/);
    expectDomainError(() => formatMoney(990, currency), 'invalid_input', /unknown currency/);
  });

  it('round trip: formatMinor(parsePrice(x)) parses back to the same minor amount', () => {
    // x is any accepted price text: random whole part (with leading zeros), fraction of 0..exp digits.
    const arbPriceText = arbCurrency.chain((currency) => {
      const exp = ISO_EXPONENTS[currency]!;
      return fc
        .record({
          // leading zeros plus a whole part that keeps the amount within MAX_AMOUNT_MINOR
          whole: fc.tuple(fc.stringMatching(/^0{0,2}$/), fc.nat({ max: MAX_AMOUNT_MINOR / 10 ** exp - 1 })).map(([zeros, n]) => zeros + String(n)),
          frac: exp === 0 ? fc.constant('') : fc.stringMatching(new RegExp(`^\\d{0,${exp}}$`)),
          pad: fc.constantFrom('', ' ', '\t'),
        })
        .map(({ whole, frac, pad }) => ({ currency, text: `${pad}${whole}${frac ? `.${frac}` : ''}${pad}` }));
    });
    fc.assert(
      fc.property(arbPriceText, ({ currency, text }) => {
        const minor = parsePrice(text, currency);
        const formatted = formatMinor(minor, currency);
        expect(parsePrice(formatted, currency)).toBe(minor);
        // And formatting is canonical: the same amount always prints the same way.
        expect(formatMinor(parsePrice(formatted, currency), currency)).toBe(formatted);
      }),
      { numRuns: 1000 },
    );
  });

  it('round trip: parsePrice(formatMinor(n)) === n for every amount and currency', () => {
    fc.assert(
      fc.property(arbMinor, arbCurrency, (amount, currency) => {
        const exp = ISO_EXPONENTS[currency]!;
        const text = formatMinor(amount, currency);
        expect(text).toMatch(exp === 0 ? /^(0|[1-9]\d*)$/ : new RegExp(`^(0|[1-9]\\d*)\\.\\d{${exp}}$`));
        expect(parsePrice(text, currency)).toBe(amount);
      }),
      { numRuns: 1000 },
    );
  });

  it('a negative amount formats as "-" and the positive amount', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: MAX_AMOUNT_MINOR }), arbCurrency, (amount, currency) => {
        expect(formatMinor(-amount, currency)).toBe(`-${formatMinor(amount, currency)}`);
      }),
    );
  });
});
