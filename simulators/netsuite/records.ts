/**
 * The REST record API's wire format, both ways: request bodies -> store inputs (schema, read-only
 * fields, references by internal or external id) and store records -> NetSuite's JSON (decimal
 * dollars, `{ links, id, refName }` references, sublists as collection links unless expanded).
 */
import type { Seed } from '../common/seed';
import { RecordError, invalidContent, userError } from './errors';
import { periodFromId, periodId, periodName } from './periods';
import {
  type CreditHold,
  type CustomerInput,
  type CustomerRec,
  type InvoiceInput,
  type InvoiceRec,
  type NetSuiteStore,
  type PaymentInput,
  type PaymentRec,
  type RecordType,
} from './store';

type Json = Record<string, unknown>;

/** Fields NetSuite computes; sending one is refused rather than silently ignored. */
const READ_ONLY: Record<RecordType, Set<string>> = {
  customer: new Set(['id', 'links', 'balance', 'dateCreated', 'lastModifiedDate']),
  invoice: new Set(['id', 'links', 'subtotal', 'total', 'amountRemaining', 'status', 'createdDate', 'lastModifiedDate']),
  customerPayment: new Set(['id', 'links', 'status', 'createdDate', 'lastModifiedDate']),
  creditMemo: new Set(['id', 'links', 'subtotal', 'total', 'amountRemaining', 'status', 'createdDate', 'lastModifiedDate']),
};

const HOLD_NAMES: Record<CreditHold, string> = { AUTO: 'Auto', ON: 'On', OFF: 'Off' };
const STATUS_IDS = { Open: 'A', 'Paid In Full': 'B', Voided: 'V' } as const;
const CURRENCY = { id: '1', refName: 'USD' };
const SUBSIDIARY = { id: '1', refName: 'Concord Inc.' };

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

export function createRecordCodec(store: NetSuiteStore, seed: Seed) {
  const items = new Map(seed.products.map((p) => [p.erpItemId, p.name]));

  // ---------------------------------------------------------------- parsing

  function str(value: unknown, path: string, nullable = true): string | null {
    if (value === null && nullable) return null;
    if (typeof value !== 'string') throw invalidContent(`Field ${path} must be a string.`, path);
    return value;
  }

  function cents(value: unknown, path: string): number {
    if (typeof value !== 'number' || !Number.isFinite(value)) throw invalidContent(`Field ${path} must be a number.`, path);
    return Math.round(value * 100);
  }

  function date(value: unknown, path: string): string {
    const text = str(value, path, false)!;
    if (!/^\d{4}-\d{2}-\d{2}$/.test(text) || Number.isNaN(Date.parse(text))) {
      throw userError(`Invalid date value ${text} for the following field: ${path}`, path);
    }
    return text;
  }

  /** `{ id }` or `{ externalId }` -> internal id of a record of `type`. */
  function ref(type: RecordType, value: unknown, path: string): number {
    if (!isObject(value)) throw invalidContent(`Field ${path} must be a reference object.`, path);
    const key = typeof value.id === 'string' ? value.id : typeof value.externalId === 'string' ? `eid:${value.externalId}` : null;
    if (key === null) throw invalidContent(`Field ${path} must have an id or an externalId.`, path);
    const id = store.resolve(type, key);
    if (id === undefined) throw userError(`You have entered an Invalid Field Value ${key.replace(/^eid:/, '')} for the following field: ${path}`, path);
    return id;
  }

  /** Accept the account's only currency and subsidiary, refuse others. */
  function fixedRef(value: unknown, expected: string, path: string): void {
    if (!isObject(value) || value.id !== expected) throw userError(`You have entered an Invalid Field Value for the following field: ${path}`, path);
  }

  function period(value: unknown, path: string): string {
    if (!isObject(value) || typeof value.id !== 'string' || !/^\d+$/.test(value.id)) throw invalidContent(`Field ${path} must be a reference object.`, path);
    return periodFromId(Number(value.id));
  }

  function fields(type: RecordType, body: unknown, allowed: Set<string>): Json {
    if (!isObject(body)) throw invalidContent('The request body must be a JSON object.');
    for (const key of Object.keys(body)) {
      if (READ_ONLY[type].has(key)) throw userError(`The field ${key} is read-only and cannot be set.`, key);
      if (!allowed.has(key)) throw invalidContent(`The field ${key} does not exist on the ${type} record.`, key);
    }
    return body;
  }

  const CUSTOMER_FIELDS = new Set(['entityId', 'companyName', 'externalId', 'email', 'creditLimit', 'creditHoldOverride', 'vatRegNumber', 'custentity_concord_correlation_id', 'currency', 'subsidiary', 'isPerson']);
  function parseCustomer(body: unknown): CustomerInput {
    const b = fields('customer', body, CUSTOMER_FIELDS);
    const input: CustomerInput = {};
    if ('entityId' in b) input.entityId = str(b.entityId, 'entityId', false)!;
    if ('companyName' in b) input.companyName = str(b.companyName, 'companyName', false)!;
    if ('externalId' in b) input.externalId = str(b.externalId, 'externalId');
    if ('email' in b) input.email = str(b.email, 'email');
    if ('creditLimit' in b) input.creditLimit = b.creditLimit === null ? null : cents(b.creditLimit, 'creditLimit');
    if ('creditHoldOverride' in b) {
      const hold = isObject(b.creditHoldOverride) ? b.creditHoldOverride.id : undefined;
      if (hold !== 'AUTO' && hold !== 'ON' && hold !== 'OFF') throw userError('You have entered an Invalid Field Value for the following field: creditHoldOverride', 'creditHoldOverride');
      input.creditHoldOverride = hold;
    }
    if ('vatRegNumber' in b) input.vatRegNumber = str(b.vatRegNumber, 'vatRegNumber');
    if ('custentity_concord_correlation_id' in b) input.correlationId = str(b.custentity_concord_correlation_id, 'custentity_concord_correlation_id');
    if ('currency' in b) fixedRef(b.currency, CURRENCY.id, 'currency');
    if ('subsidiary' in b) fixedRef(b.subsidiary, SUBSIDIARY.id, 'subsidiary');
    if ('isPerson' in b && b.isPerson !== false) throw userError('Only company customers are supported in this account.', 'isPerson');
    return input;
  }

  const INVOICE_FIELDS = new Set(['tranId', 'externalId', 'entity', 'tranDate', 'postingPeriod', 'memo', 'custbody_concord_correlation_id', 'taxTotal', 'currency', 'subsidiary', 'item']);
  const LINE_FIELDS = new Set(['item', 'description', 'quantity', 'rate', 'amount', 'line']);
  function parseInvoice(body: unknown, replaceLines: boolean, type: 'invoice' | 'creditMemo' = 'invoice'): InvoiceInput {
    const b = fields(type, body, INVOICE_FIELDS);
    const input: InvoiceInput = { replaceLines };
    if ('tranId' in b) input.tranId = str(b.tranId, 'tranId', false)!;
    if ('externalId' in b) input.externalId = str(b.externalId, 'externalId');
    if ('entity' in b) input.entity = ref('customer', b.entity, 'entity');
    if ('tranDate' in b) input.tranDate = date(b.tranDate, 'tranDate');
    if ('postingPeriod' in b) input.period = period(b.postingPeriod, 'postingPeriod');
    if ('memo' in b) input.memo = str(b.memo, 'memo');
    if ('custbody_concord_correlation_id' in b) input.correlationId = str(b.custbody_concord_correlation_id, 'custbody_concord_correlation_id');
    // Writable here as on accounts with tax details override: the billing system computed the tax.
    if ('taxTotal' in b) input.taxTotal = cents(b.taxTotal, 'taxTotal');
    if ('currency' in b) fixedRef(b.currency, CURRENCY.id, 'currency');
    if ('subsidiary' in b) fixedRef(b.subsidiary, SUBSIDIARY.id, 'subsidiary');
    if ('item' in b) {
      const list = isObject(b.item) ? b.item.items : undefined;
      if (!Array.isArray(list)) throw invalidContent('Field item must be { items: [...] }.', 'item');
      input.lines = list.map((raw, i) => {
        const path = `item.items[${i}]`;
        if (!isObject(raw)) throw invalidContent('A line must be an object.', path);
        for (const key of Object.keys(raw)) if (!LINE_FIELDS.has(key)) throw invalidContent(`The field ${key} does not exist on the item sublist.`, `${path}.${key}`);
        const itemId = isObject(raw.item) && typeof raw.item.id === 'string' ? raw.item.id : undefined;
        if (!itemId || !items.has(itemId)) throw new RecordError(400, 'INVALID_CONTENT', `Invalid content in the request body. You have entered an Invalid Field Value for the following field: item`, { errorPath: `${path}.item` });
        const quantity = raw.quantity === undefined ? 1 : raw.quantity;
        if (typeof quantity !== 'number' || !Number.isFinite(quantity)) throw invalidContent('Field quantity must be a number.', `${path}.quantity`);
        if (raw.amount === undefined && raw.rate === undefined) throw userError('Please enter value(s) for: Amount', `${path}.amount`);
        return {
          line: typeof raw.line === 'number' ? raw.line : undefined,
          itemId,
          description: raw.description === undefined ? null : str(raw.description, `${path}.description`),
          quantity,
          rate: raw.rate === undefined ? undefined : typeof raw.rate === 'number' ? raw.rate * 100 : cents(raw.rate, `${path}.rate`),
          amount: raw.amount === undefined ? undefined : cents(raw.amount, `${path}.amount`),
        };
      });
    }
    return input;
  }

  const PAYMENT_FIELDS = new Set(['tranId', 'externalId', 'customer', 'payment', 'tranDate', 'postingPeriod', 'memo', 'apply', 'currency', 'subsidiary']);
  function parsePayment(body: unknown): PaymentInput {
    const b = fields('customerPayment', body, PAYMENT_FIELDS);
    const input: PaymentInput = {};
    if ('tranId' in b) input.tranId = str(b.tranId, 'tranId', false)!;
    if ('externalId' in b) input.externalId = str(b.externalId, 'externalId');
    if ('customer' in b) input.customer = ref('customer', b.customer, 'customer');
    if ('payment' in b) input.payment = cents(b.payment, 'payment');
    if ('tranDate' in b) input.tranDate = date(b.tranDate, 'tranDate');
    if ('postingPeriod' in b) input.period = period(b.postingPeriod, 'postingPeriod');
    if ('memo' in b) input.memo = str(b.memo, 'memo');
    if ('currency' in b) fixedRef(b.currency, CURRENCY.id, 'currency');
    if ('subsidiary' in b) fixedRef(b.subsidiary, SUBSIDIARY.id, 'subsidiary');
    if ('apply' in b) {
      const list = isObject(b.apply) ? b.apply.items : undefined;
      if (!Array.isArray(list)) throw invalidContent('Field apply must be { items: [...] }.', 'apply');
      input.applies = list
        .filter((raw) => isObject(raw) && raw.apply !== false)
        .map((raw, i) => ({ doc: ref('invoice', (raw as Json).doc, `apply.items[${i}].doc`), amount: cents((raw as Json).amount, `apply.items[${i}].amount`) }));
    }
    return input;
  }

  /** Parse a write body for `type`. `replace` lists sublists to replace (`?replace=item`). */
  function parse(type: RecordType, body: unknown, replace: string[] = []): CustomerInput | InvoiceInput | PaymentInput {
    if (type === 'customer') return parseCustomer(body);
    if (type === 'invoice') return parseInvoice(body, replace.includes('item'));
    // A credit memo is written like an invoice: customer, date, item lines, tax.
    if (type === 'creditMemo') return parseInvoice(body, replace.includes('item'), 'creditMemo');
    return parsePayment(body);
  }

  // ---------------------------------------------------------------- serialising

  const dollars = (amount: number) => Math.round(amount) / 100;
  const self = (href: string) => [{ rel: 'self', href }];

  /** Drop nulls: NetSuite omits empty fields from a record. */
  const compact = (record: Json): Json => Object.fromEntries(Object.entries(record).filter(([, v]) => v !== null && v !== undefined));

  function serialize(type: RecordType, id: number, base: string, expand: boolean): Json | undefined {
    const root = `${base}/services/rest/record/v1`;
    const reference = (recordType: string, refId: string | number, refName?: string) =>
      compact({ links: self(`${root}/${recordType}/${refId}`), id: String(refId), refName });
    const postingPeriod = (p: string) => reference('accountingPeriod', periodId(p), periodName(p));
    const href = `${root}/${type}/${id}`;

    if (type === 'customer') {
      const c: CustomerRec | undefined = store.customers.get(id);
      if (!c) return undefined;
      return compact({
        links: self(href),
        id: String(c.id),
        entityId: c.entityId,
        companyName: c.companyName,
        externalId: c.externalId,
        email: c.email,
        isPerson: false,
        creditLimit: c.creditLimit === null ? null : dollars(c.creditLimit),
        creditHoldOverride: { id: c.creditHoldOverride, refName: HOLD_NAMES[c.creditHoldOverride] },
        balance: dollars(store.derived.balance(c.id)),
        vatRegNumber: c.vatRegNumber,
        currency: reference('currency', CURRENCY.id, CURRENCY.refName),
        subsidiary: reference('subsidiary', SUBSIDIARY.id, SUBSIDIARY.refName),
        custentity_concord_correlation_id: c.correlationId,
        dateCreated: c.dateCreated,
        lastModifiedDate: c.lastModifiedDate,
      });
    }

    if (type === 'invoice' || type === 'creditMemo') {
      const memo = type === 'creditMemo';
      const inv: InvoiceRec | undefined = (memo ? store.creditMemos : store.invoices).get(id);
      if (!inv) return undefined;
      // Credit memos are not applied to invoices here: what they credit stays open.
      const status = memo ? 'Open' : store.derived.status(inv);
      const lines = inv.lines.map((l) =>
        compact({ links: [], line: l.line, item: reference('serviceSaleItem', l.itemId, items.get(l.itemId)), description: l.description, quantity: l.quantity, rate: l.rate / 100, amount: dollars(l.amount) }),
      );
      return compact({
        links: self(href),
        id: String(inv.id),
        tranId: inv.tranId,
        externalId: inv.externalId,
        entity: reference('customer', inv.entity, store.customers.get(inv.entity)?.companyName),
        tranDate: inv.tranDate,
        postingPeriod: postingPeriod(inv.period),
        subtotal: dollars(store.derived.subtotal(inv)),
        taxTotal: dollars(inv.taxTotal),
        total: dollars(store.derived.total(inv)),
        amountRemaining: dollars(memo ? store.derived.total(inv) : store.derived.remaining(inv)),
        status: { id: STATUS_IDS[status], refName: status },
        memo: inv.memo,
        custbody_concord_correlation_id: inv.correlationId,
        currency: reference('currency', CURRENCY.id, CURRENCY.refName),
        subsidiary: reference('subsidiary', SUBSIDIARY.id, SUBSIDIARY.refName),
        item: sublist(`${href}/item`, lines, expand),
        createdDate: inv.dateCreated,
        lastModifiedDate: inv.lastModifiedDate,
      });
    }

    const p: PaymentRec | undefined = store.payments.get(id);
    if (!p) return undefined;
    const applies = p.applies.map((a, i) => ({ links: [], line: i + 1, doc: reference('invoice', a.doc), apply: true, amount: dollars(a.amount) }));
    return compact({
      links: self(href),
      id: String(p.id),
      tranId: p.tranId,
      externalId: p.externalId,
      customer: reference('customer', p.customer, store.customers.get(p.customer)?.companyName),
      payment: dollars(p.payment),
      tranDate: p.tranDate,
      postingPeriod: postingPeriod(p.period),
      memo: p.memo,
      apply: sublist(`${href}/apply`, applies, expand),
      createdDate: p.dateCreated,
      lastModifiedDate: p.lastModifiedDate,
    });
  }

  /** A sublist: a link to the collection, or the collection itself with ?expandSubResources=true. */
  function sublist(href: string, rows: Json[], expand: boolean): Json {
    if (!expand) return { links: self(href) };
    return { links: self(href), items: rows, totalResults: rows.length, count: rows.length, hasMore: false, offset: 0 };
  }

  return { parse, serialize, sublist };
}

export type RecordCodec = ReturnType<typeof createRecordCodec>;

/**
 * The record list `q` filter, a small subset of NetSuite's syntax: conditions `field OPERATOR value`
 * joined by AND / OR (evaluated left to right), operators IS, IS_NOT, START_WITH, CONTAIN, EQUAL,
 * GREATER, LESS, EMPTY, EMPTY_NOT. Reference fields compare by id.
 */
export function parseListFilter(q: string): (record: Json) => boolean {
  const pattern = /\s*(\w+)\s+(IS_NOT|IS|START_WITH|CONTAIN|EQUAL|GREATER|LESS|EMPTY_NOT|EMPTY)(?:\s+(?!(?:AND|OR)\b)("(?:[^"\\]|\\.)*"|[^\s"]+))?\s*(AND|OR|$)/iy;
  const terms: { test: (r: Json) => boolean; join: string }[] = [];
  while (pattern.lastIndex < q.length) {
    const m = pattern.exec(q);
    if (!m) throw new RecordError(400, 'INVALID_PARAMETER', `Invalid query parameter value: ${q}`, { errorQueryParam: 'q' });
    const [, field, rawOp, rawValue, join] = m;
    const op = rawOp.toUpperCase();
    const needsValue = op !== 'EMPTY' && op !== 'EMPTY_NOT';
    if (needsValue && rawValue === undefined) throw new RecordError(400, 'INVALID_PARAMETER', `Missing value for ${field} ${op}`, { errorQueryParam: 'q' });
    const value = rawValue?.startsWith('"') ? JSON.parse(rawValue) as string : rawValue ?? '';
    terms.push({
      join: (join || '').toUpperCase(),
      test: (record) => {
        const raw = record[field];
        const actual = isObject(raw) ? raw.id : raw;
        const text = actual === undefined || actual === null ? '' : String(actual);
        switch (op) {
          case 'IS': return text.toLowerCase() === value.toLowerCase();
          case 'IS_NOT': return text.toLowerCase() !== value.toLowerCase();
          case 'START_WITH': return text.toLowerCase().startsWith(value.toLowerCase());
          case 'CONTAIN': return text.toLowerCase().includes(value.toLowerCase());
          case 'EQUAL': return Number(text) === Number(value);
          case 'GREATER': return Number(text) > Number(value);
          case 'LESS': return Number(text) < Number(value);
          case 'EMPTY': return text === '';
          default: return text !== '';
        }
      },
    });
    if (!join) break;
  }
  return (record) => {
    let result = terms[0]?.test(record) ?? true;
    for (let i = 1; i < terms.length; i++) {
      result = terms[i - 1].join === 'OR' ? result || terms[i].test(record) : result && terms[i].test(record);
    }
    return result;
  };
}
