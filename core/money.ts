/** Money as API.md defines it: a decimal string amount and an ISO currency code, never a float. */
export interface Money {
  amount: string;
  currency: string;
}

/** Currencies without a minor unit (Stripe's zero-decimal list, the ones we may meet). */
const ZERO_DECIMAL = new Set(['JPY', 'KRW', 'VND', 'CLP', 'ISK', 'UGX', 'XAF', 'XOF']);

function decimals(currency: string): number {
  return ZERO_DECIMAL.has(currency.toUpperCase()) ? 0 : 2;
}

/** 120000, 'usd' -> { amount: '1200.00', currency: 'USD' } (Stripe's integer minor units). */
export function fromMinorUnits(minor: number, currency: string): Money {
  const code = currency.toUpperCase();
  const places = decimals(code);
  const negative = minor < 0;
  const digits = String(Math.abs(Math.round(minor))).padStart(places + 1, '0');
  const whole = places === 0 ? digits : digits.slice(0, -places);
  const fraction = places === 0 ? '' : `.${digits.slice(-places)}`;
  return { amount: `${negative ? '-' : ''}${whole}${fraction}`, currency: code };
}

/** A decimal number or string as the ERP and CRM send it -> Money, without float drift. */
export function fromDecimal(value: number | string, currency: string): Money {
  const code = currency.toUpperCase();
  const places = decimals(code);
  const text = typeof value === 'number' ? value.toFixed(places) : value;
  return fromMinorUnits(toMinorUnits(text, code), code);
}

/** '1200.00' -> 120000 for USD. Rounds half away from zero at the currency's precision. */
export function toMinorUnits(amount: string, currency: string): number {
  const places = decimals(currency);
  const match = /^(-)?(\d+)(?:\.(\d+))?$/.exec(amount.trim());
  if (!match) throw new Error(`not a decimal amount: ${amount}`);
  const [, sign, whole, fraction = ''] = match;
  const padded = (fraction + '0'.repeat(places + 1)).slice(0, places + 1);
  let minor = Number(whole) * 10 ** places + Number(padded.slice(0, places) || '0');
  if (Number(padded[places]) >= 5) minor += 1;
  return sign ? -minor : minor;
}
