/**
 * The simulated org's records and the rules Salesforce applies when they are written: field
 * validation, required and read-only fields, restricted picklists, unique and external-ID fields,
 * derived fields (IsWon/IsClosed, TotalPrice, the Amount roll-up) and system timestamps.
 * Records are held with canonical field names and wire values (dates as strings).
 */
import { salesforceId, type Seed } from '../common/seed';
import { SCHEMA, SOBJECT_NAMES, findField, type FieldDef, type SObjectDef, type SObjectName } from './schema';
import { SalesforceApiError, formatDateTime, isDate, normalizeId, notFound, parseTime, recordUrl } from './wire';

export type FieldValue = string | number | boolean | null;
export type SfRecord = Record<string, FieldValue>;

/** Upsert matched several records: Salesforce answers 300 with their URLs. */
export class MultipleRecordsError extends SalesforceApiError {
  constructor(field: string, readonly ids: string[], readonly urls: string[]) {
    super(300, 'DUPLICATE_EXTERNAL_ID', `${field}: more than one record found for external id field: [${ids.join(', ')}]`, [field]);
  }
}

const cents = (value: number) => Math.round(value * 100) / 100;

export class SalesforceStore {
  private tables = new Map<SObjectName, Map<string, SfRecord>>();
  private counters = {} as Record<SObjectName, number>;

  constructor(seed: Seed, private readonly clock: () => Date = () => new Date()) {
    for (const name of SOBJECT_NAMES) {
      this.tables.set(name, new Map());
      this.counters[name] = 0;
    }
    this.load(seed);
  }

  get(type: SObjectName, id: string): SfRecord | undefined {
    return this.table(type).get(id);
  }

  /** Every record of a type, in creation order (Salesforce's order without ORDER BY is unspecified). */
  list(type: SObjectName): SfRecord[] {
    return [...this.table(type).values()];
  }

  /** Parses a path id for `type`: MALFORMED_ID (400) if it is not an id of that object. */
  parseId(type: SObjectName, raw: string): string {
    const id = normalizeId(raw);
    if (!id || !id.startsWith(SCHEMA[type].keyPrefix)) {
      throw new SalesforceApiError(400, 'MALFORMED_ID', `${type} ID: id value of incorrect type: ${raw}`, ['Id']);
    }
    return id;
  }

  /** The record or NOT_FOUND (404). */
  require(type: SObjectName, rawId: string): SfRecord {
    const record = this.get(type, this.parseId(type, rawId));
    if (!record) throw notFound();
    return record;
  }

  create(type: SObjectName, body: unknown): string {
    const def = SCHEMA[type];
    const values = this.prepare(def, body, null);
    const missing = def.fields.filter((f) => f.required && (values[f.name] ?? '') === '').map((f) => f.name);
    if (missing.length > 0) {
      throw new SalesforceApiError(400, 'REQUIRED_FIELD_MISSING', `Required fields are missing: [${missing.join(', ')}]`, missing);
    }
    const id = salesforceId(def.keyPrefix, ++this.counters[type]);
    const now = formatDateTime(this.clock());
    const record: SfRecord = Object.fromEntries(def.fields.map((f) => [f.name, null]));
    if (type === 'Contract') record.Status = 'Draft'; // the picklist's default value
    Object.assign(record, values, { Id: id, CreatedDate: now, LastModifiedDate: now, SystemModstamp: now });
    this.derive(type, record);
    this.table(type).set(id, record);
    this.afterWrite(type, record);
    return id;
  }

  update(type: SObjectName, rawId: string, body: unknown): string {
    const record = this.require(type, rawId);
    const values = this.prepare(SCHEMA[type], body, record.Id as string);
    const cleared = SCHEMA[type].fields.filter((f) => f.required && f.name in values && (values[f.name] ?? '') === '');
    if (cleared.length > 0) {
      const names = cleared.map((f) => f.name);
      throw new SalesforceApiError(400, 'REQUIRED_FIELD_MISSING', `Required fields are missing: [${names.join(', ')}]`, names);
    }
    const now = formatDateTime(this.clock());
    Object.assign(record, values, { LastModifiedDate: now, SystemModstamp: now });
    this.derive(type, record);
    this.afterWrite(type, record);
    return record.Id as string;
  }

  /** Deletes the record and what Salesforce deletes with it (opportunity products, an account's deals and contracts). */
  remove(type: SObjectName, rawId: string): void {
    const record = this.require(type, rawId);
    const id = record.Id as string;
    this.table(type).delete(id);
    if (type === 'Account') {
      for (const child of this.list('Account')) if (child.ParentId === id) child.ParentId = null;
      for (const opp of this.list('Opportunity')) if (opp.AccountId === id) this.remove('Opportunity', opp.Id as string);
      for (const contract of this.list('Contract')) if (contract.AccountId === id) this.table('Contract').delete(contract.Id as string);
    }
    if (type === 'Opportunity') {
      for (const line of this.list('OpportunityLineItem')) {
        if (line.OpportunityId === id) this.table('OpportunityLineItem').delete(line.Id as string);
      }
    }
    if (type === 'OpportunityLineItem') this.afterWrite(type, record);
  }

  /** PATCH /sobjects/{type}/{field}/{value}: update the one match or create; 300 when ambiguous. */
  upsert(type: SObjectName, fieldName: string, value: string, body: unknown): { id: string; created: boolean } {
    const def = SCHEMA[type];
    const field = findField(def, fieldName);
    if (!field || !(field.externalId || field.name === 'Id')) {
      throw new SalesforceApiError(404, 'NOT_FOUND', `Provided external ID field does not exist or is not accessible: ${fieldName}`);
    }
    if (field.name === 'Id') return { id: this.update(type, value, body), created: false };
    const matches = this.list(type).filter((r) => String(r[field.name] ?? '').toLowerCase() === value.toLowerCase());
    if (matches.length > 1) {
      const ids = matches.map((r) => r.Id as string);
      throw new MultipleRecordsError(field.name, ids, ids.map((id) => recordUrl(type, id)));
    }
    const fields = { ...(isObject(body) ? body : {}) };
    for (const key of Object.keys(fields)) if (key.toLowerCase() === field.name.toLowerCase()) delete fields[key];
    if (matches.length === 1) return { id: this.update(type, matches[0].Id as string, fields), created: false };
    return { id: this.create(type, { ...fields, [field.name]: value }), created: true };
  }

  /** Runs `work`; if it throws, every record is put back as it was (composite allOrNone). */
  transaction<T>(work: () => T): T {
    const tables = new Map([...this.tables].map(([name, table]) => [name, new Map([...table].map(([id, r]) => [id, { ...r }]))]));
    const counters = { ...this.counters };
    try {
      return work();
    } catch (error) {
      this.tables = tables;
      this.counters = counters;
      throw error;
    }
  }

  /** The record as the REST API returns it: attributes first, then the fields (all, or those asked for). */
  wire(type: SObjectName, record: SfRecord, fields?: readonly FieldDef[]): Record<string, unknown> {
    const out: Record<string, unknown> = { attributes: { type, url: recordUrl(type, record.Id as string) } };
    for (const f of fields ?? SCHEMA[type].fields) out[f.name] = record[f.name] ?? null;
    return out;
  }

  /** Ids of records changed in [start, end), for GET /sobjects/{type}/updated. */
  updatedBetween(type: SObjectName, start: number, end: number): string[] {
    return this.list(type)
      .filter((r) => {
        const at = parseTime(r.SystemModstamp as string);
        return at >= start && at < end;
      })
      .map((r) => r.Id as string);
  }

  private table(type: SObjectName): Map<string, SfRecord> {
    return this.tables.get(type)!;
  }

  /** Validates a write body against the schema and returns canonical field name -> value. */
  private prepare(def: SObjectDef, body: unknown, selfId: string | null): SfRecord {
    if (!isObject(body)) {
      throw new SalesforceApiError(400, 'JSON_PARSER_ERROR', `Cannot deserialize instance of ${def.name} from the request body`);
    }
    const values: SfRecord = {};
    const readOnly: string[] = [];
    for (const [key, raw] of Object.entries(body)) {
      if (key === 'attributes') continue;
      const field = findField(def, key);
      if (!field) throw new SalesforceApiError(400, 'INVALID_FIELD', `No such column '${key}' on sobject of type ${def.name}`);
      if (!field.writable) {
        // Salesforce tolerates the record's own Id in an update body; any other system field fails.
        if (!(field.name === 'Id' && selfId !== null && normalizeId(String(raw)) === selfId)) readOnly.push(field.name);
        continue;
      }
      values[field.name] = this.coerce(def, field, raw);
    }
    if (readOnly.length > 0) {
      throw new SalesforceApiError(
        400,
        'INVALID_FIELD_FOR_INSERT_UPDATE',
        `Unable to create/update fields: ${readOnly.join(', ')}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.`,
        readOnly,
      );
    }
    this.validate(def, values, selfId);
    return values;
  }

  private coerce(def: SObjectDef, field: FieldDef, raw: unknown): FieldValue {
    if (raw === null || raw === undefined) return null;
    const bad = () =>
      new SalesforceApiError(400, 'JSON_PARSER_ERROR', `Cannot deserialize instance of ${field.type} from value ${JSON.stringify(raw)} for field ${field.name}`);
    switch (field.type) {
      case 'boolean':
        if (typeof raw !== 'boolean') throw bad();
        return raw;
      case 'currency':
      case 'double':
      case 'int': {
        const n = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
        if (!Number.isFinite(n) || (field.type === 'int' && !Number.isInteger(n))) throw bad();
        return field.type === 'currency' ? cents(n) : n;
      }
      case 'date':
        if (typeof raw !== 'string' || !isDate(raw.slice(0, 10))) throw bad();
        return raw.slice(0, 10);
      case 'datetime':
        if (typeof raw !== 'string' || Number.isNaN(parseTime(raw))) throw bad();
        return formatDateTime(new Date(parseTime(raw)));
      case 'reference': {
        const id = normalizeId(String(raw));
        if (!id) throw new SalesforceApiError(400, 'MALFORMED_ID', `${field.label}: id value of incorrect type: ${String(raw)}`, [field.name]);
        if (!id.startsWith(SCHEMA[field.referenceTo!].keyPrefix)) {
          throw new SalesforceApiError(400, 'FIELD_INTEGRITY_EXCEPTION', `${field.referenceTo} ID: id value of incorrect type: ${id}`, [field.name]);
        }
        if (!this.get(field.referenceTo!, id)) {
          throw new SalesforceApiError(400, 'INVALID_CROSS_REFERENCE_KEY', 'invalid cross reference id', []);
        }
        return id;
      }
      default: {
        if (typeof raw !== 'string' && typeof raw !== 'number' && typeof raw !== 'boolean') throw bad();
        const text = String(raw);
        if (field.values && !field.values.includes(text)) {
          throw new SalesforceApiError(
            400,
            'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST',
            `${def.name === 'Opportunity' ? 'Stage' : field.label}: bad value for restricted picklist field: ${text}`,
            [field.name],
          );
        }
        return text;
      }
    }
  }

  /** Uniqueness and the org's validation rules. */
  private validate(def: SObjectDef, values: SfRecord, selfId: string | null): void {
    for (const field of def.fields) {
      const value = values[field.name];
      if (!field.unique || value === null || value === undefined) continue;
      const other = this.list(def.name).find(
        (r) => r.Id !== selfId && String(r[field.name] ?? '').toLowerCase() === String(value).toLowerCase(),
      );
      if (other) {
        throw new SalesforceApiError(400, 'DUPLICATE_VALUE', `duplicate value found: ${field.name} duplicates value on record with id: ${other.Id}`, []);
      }
    }
    // A validation rule as an admin would write one, so clients meet FIELD_CUSTOM_VALIDATION_EXCEPTION.
    if (def.name === 'Opportunity' && typeof values.Amount === 'number' && values.Amount < 0) {
      throw new SalesforceApiError(400, 'FIELD_CUSTOM_VALIDATION_EXCEPTION', 'Amount must not be negative.', ['Amount']);
    }
    if (def.name === 'OpportunityLineItem' && typeof values.Quantity === 'number' && values.Quantity <= 0) {
      throw new SalesforceApiError(400, 'FIELD_INTEGRITY_EXCEPTION', 'field integrity exception: unknown (quantity must be non-zero)', ['Quantity']);
    }
  }

  /** Fields Salesforce computes on save. */
  private derive(type: SObjectName, record: SfRecord): void {
    if (type === 'Opportunity') {
      record.IsWon = record.StageName === 'Closed Won';
      record.IsClosed = record.StageName === 'Closed Won' || record.StageName === 'Closed Lost';
    }
    if (type === 'OpportunityLineItem') {
      record.TotalPrice = cents(Number(record.Quantity ?? 0) * Number(record.UnitPrice ?? 0));
    }
  }

  /** An opportunity with products has Amount = the sum of their TotalPrice (a roll-up). */
  private afterWrite(type: SObjectName, record: SfRecord): void {
    if (type !== 'OpportunityLineItem') return;
    const opportunity = this.get('Opportunity', record.OpportunityId as string);
    if (!opportunity) return;
    const lines = this.list('OpportunityLineItem').filter((l) => l.OpportunityId === opportunity.Id);
    opportunity.Amount = lines.length > 0 ? cents(lines.reduce((sum, l) => sum + Number(l.TotalPrice), 0)) : opportunity.Amount;
    opportunity.SystemModstamp = formatDateTime(this.clock());
  }

  private load(seed: Seed): void {
    const put = (type: SObjectName, record: SfRecord, at: string) => {
      const full: SfRecord = Object.fromEntries(SCHEMA[type].fields.map((f) => [f.name, null]));
      const stamp = formatDateTime(new Date(at));
      Object.assign(full, record, { CreatedDate: stamp, LastModifiedDate: stamp, SystemModstamp: stamp });
      this.derive(type, full);
      this.table(type).set(full.Id as string, full);
      this.counters[type] += 1;
    };
    const productNames = new Map(seed.products.map((p) => [p.code, p.name]));
    for (const c of seed.customers) {
      put('Account', {
        Id: c.crmId,
        Name: c.name,
        Website: c.domain,
        ParentId: c.parentIndex === null ? null : seed.customers[c.parentIndex].crmId,
        Billing_Customer_Id__c: c.billingId,
        ERP_Customer_Id__c: c.erpId,
        Concord_Status__c: c.creditHold ? 'Credit Hold' : 'Active',
      }, c.createdAt);
    }
    const invoices = new Map(seed.invoices.map((i) => [i.id, i]));
    for (const o of seed.opportunities) {
      const createdAt = seed.customers[o.customerIndex].createdAt;
      put('Opportunity', {
        Id: o.crmId,
        AccountId: seed.customers[o.customerIndex].crmId,
        Name: o.name,
        StageName: o.stage,
        Amount: o.amount / 100,
        CloseDate: o.closeDate.slice(0, 10),
        Billing_Subscription_Id__c: o.contractId,
        Billing_Invoice_Id__c: o.invoiceId,
        ERP_Invoice_Id__c: (o.invoiceId && invoices.get(o.invoiceId)?.posting?.erpId) || null,
        Concord_Order_Status__c: o.contractId ? 'Completed' : null,
      }, createdAt);
      for (const line of o.lines) {
        put('OpportunityLineItem', {
          Id: line.id,
          OpportunityId: o.crmId,
          ProductCode: line.productCode,
          Name: productNames.get(line.productCode) ?? line.productCode,
          Quantity: line.quantity,
          UnitPrice: line.unitPrice / 100,
        }, createdAt);
      }
    }
    seed.contracts.forEach((contract, i) => {
      const start = new Date(contract.startDate);
      const end = contract.endDate ? new Date(contract.endDate) : null;
      put('Contract', {
        Id: salesforceId(SCHEMA.Contract.keyPrefix, i + 1),
        AccountId: seed.customers[contract.customerIndex].crmId,
        Status: contract.status === 'incomplete' ? 'Draft' : 'Activated',
        StartDate: contract.startDate.slice(0, 10),
        EndDate: contract.endDate?.slice(0, 10) ?? null,
        ContractTerm: end ? (end.getUTCFullYear() - start.getUTCFullYear()) * 12 + end.getUTCMonth() - start.getUTCMonth() : null,
        Billing_Subscription_Id__c: contract.id,
      }, contract.startDate);
    });
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
