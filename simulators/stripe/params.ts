/**
 * Per-endpoint parameter specs. Stripe rejects what an endpoint does not know
 * (`Received unknown parameter: foo`), what it needs but did not get (`Missing required param`) and
 * values of the wrong type (`Invalid integer: abc`); the validator does the same and hands the
 * handler typed, coerced values.
 */
import { StripeApiError } from './errors';
import type { ParamValue, Params } from './form';

interface Base {
  required?: boolean;
}
export interface StringSpec extends Base {
  kind: 'string';
  values?: readonly string[];
}
export interface IntSpec extends Base {
  kind: 'integer';
  min?: number;
  max?: number;
}
export interface BoolSpec extends Base {
  kind: 'boolean';
}
/** Free-form string map; `''` for a key means "unset it" (Stripe's metadata semantics). */
export interface MetadataSpec extends Base {
  kind: 'metadata';
}
export interface ArraySpec<T extends Spec = Spec> extends Base {
  kind: 'array';
  of: T;
}
export interface ObjectSpec<F extends Fields = Fields> extends Base {
  kind: 'object';
  fields: F;
}
/** A timestamp filter: `created=123` or `created[gte]=123&created[lt]=456`. */
export interface RangeSpec extends Base {
  kind: 'range';
}
export type Spec = StringSpec | IntSpec | BoolSpec | MetadataSpec | ArraySpec | ObjectSpec | RangeSpec;
export type Fields = Record<string, Spec>;

export interface Range {
  gt?: number;
  gte?: number;
  lt?: number;
  lte?: number;
}

type Infer<S> = S extends StringSpec
  ? string
  : S extends IntSpec
    ? number
    : S extends BoolSpec
      ? boolean
      : S extends MetadataSpec
        ? Record<string, string> | null
        : S extends ArraySpec<infer T>
          ? Infer<T>[]
          : S extends ObjectSpec<infer F>
            ? Valid<F>
            : S extends RangeSpec
              ? Range
              : never;

/** Validated parameters: every field optional (required ones are checked at run time). */
export type Valid<F extends Fields> = { [K in keyof F]?: Infer<F[K]> };

/** Spec builders, so that endpoint tables read like Stripe's reference. */
export const p = {
  string: (options: Omit<StringSpec, 'kind'> = {}): StringSpec => ({ kind: 'string', ...options }),
  int: (options: Omit<IntSpec, 'kind'> = {}): IntSpec => ({ kind: 'integer', ...options }),
  bool: (): BoolSpec => ({ kind: 'boolean' }),
  metadata: (): MetadataSpec => ({ kind: 'metadata' }),
  array: <T extends Spec>(of: T): ArraySpec<T> => ({ kind: 'array', of }),
  object: <F extends Fields>(fields: F, options: Base = {}): ObjectSpec<F> => ({ kind: 'object', fields, ...options }),
  range: (): RangeSpec => ({ kind: 'range' }),
};

/** Parameters every list endpoint takes. */
export const listFields = {
  limit: p.int({ min: 1, max: 100 }),
  starting_after: p.string(),
  ending_before: p.string(),
  created: p.range(),
};

/** Parameters every search endpoint takes. */
export const searchFields = {
  query: p.string({ required: true }),
  limit: p.int({ min: 1, max: 100 }),
  page: p.string(),
};

const expandSpec = p.array(p.string());

function checkMetadata(value: ParamValue, name: string): Record<string, string> | null {
  // `metadata=` (empty string) clears every key.
  if (value === '') return null;
  if (typeof value === 'string' || Array.isArray(value)) {
    throw StripeApiError.invalid(`Invalid object`, name);
  }
  const out: Record<string, string> = {};
  const keys = Object.keys(value);
  if (keys.length > 50) throw StripeApiError.invalid('You can specify up to 50 keys in metadata.', name);
  for (const key of keys) {
    const v = value[key];
    if (typeof v !== 'string') throw StripeApiError.invalid(`Invalid value for ${name}[${key}]: must be a string`, `${name}[${key}]`);
    if (key.length > 40) throw StripeApiError.invalid(`Metadata keys can have up to 40 characters: ${key}`, `${name}[${key}]`);
    if (v.length > 500) throw StripeApiError.invalid(`Metadata values can have up to 500 characters.`, `${name}[${key}]`);
    out[key] = v;
  }
  return out;
}

function checkValue(spec: Spec, value: ParamValue, name: string): unknown {
  switch (spec.kind) {
    case 'string': {
      if (typeof value !== 'string') throw StripeApiError.invalid(`Invalid string: ${name}`, name);
      if (spec.values && !spec.values.includes(value)) {
        throw StripeApiError.invalid(
          `Invalid ${name}: must be one of ${spec.values.join(', ')}`,
          name,
        );
      }
      return value;
    }
    case 'integer': {
      if (typeof value !== 'string' || !/^-?\d+$/.test(value)) {
        throw new StripeApiError(400, {
          type: 'invalid_request_error',
          code: 'parameter_invalid_integer',
          message: `Invalid integer: ${typeof value === 'string' ? value : '[object]'}`,
          param: name,
        });
      }
      const n = Number(value);
      if ((spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) {
        throw StripeApiError.invalid(
          `This value must be ${spec.min !== undefined ? `greater than or equal to ${spec.min}` : ''}${spec.min !== undefined && spec.max !== undefined ? ' and ' : ''}${spec.max !== undefined ? `less than or equal to ${spec.max}` : ''}.`,
          name,
        );
      }
      return n;
    }
    case 'boolean':
      if (value !== 'true' && value !== 'false') throw StripeApiError.invalid(`Invalid boolean: ${String(value)}`, name);
      return value === 'true';
    case 'metadata':
      return checkMetadata(value, name);
    case 'array':
      // `tax_rates=` (empty) clears a list in Stripe's form encoding.
      if (value === '') return [];
      if (!Array.isArray(value)) throw StripeApiError.invalid(`Invalid array`, name);
      return value.map((item, i) => checkValue(spec.of, item, `${name}[${i}]`));
    case 'object':
      if (typeof value === 'string' || Array.isArray(value)) throw StripeApiError.invalid(`Invalid object`, name);
      return checkFields(spec.fields, value, name);
    case 'range': {
      if (typeof value === 'string') return { gte: checkValue(p.int(), value, name) as number, lte: Number(value) };
      if (Array.isArray(value)) throw StripeApiError.invalid(`Invalid object`, name);
      return checkFields({ gt: p.int(), gte: p.int(), lt: p.int(), lte: p.int() }, value, name);
    }
  }
}

function checkFields(fields: Fields, params: Params, prefix: string | null): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(params)) {
    const name = prefix === null ? key : `${prefix}[${key}]`;
    const spec = fields[key];
    if (!spec) throw StripeApiError.unknownParameter(name);
    out[key] = checkValue(spec, params[key], name);
  }
  for (const [key, spec] of Object.entries(fields)) {
    if (spec.required && out[key] === undefined) {
      throw StripeApiError.parameterMissing(prefix === null ? key : `${prefix}[${key}]`);
    }
  }
  return out;
}

/**
 * Check `params` against an endpoint's fields (plus `expand`, which every endpoint takes) and return
 * the coerced values. Throws the StripeApiError Stripe would answer with.
 */
export function validate<F extends Fields>(fields: F, params: Params): Valid<F> & { expand?: string[] } {
  return checkFields({ ...fields, expand: expandSpec }, params, null) as Valid<F> & { expand?: string[] };
}
