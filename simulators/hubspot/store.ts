/**
 * The HubSpot simulator's records: CRM objects (companies, deals, line items and Concord's
 * contracts custom object) as HubSpot keeps them, every property a string, with the associations
 * between them (v4: both directions, HubSpot-defined type ids). Seeded from the shared seed
 * mapped to HubSpot ids (seed.ts).
 */
import type { Seed } from '../common/seed';
import { hubspotId, hubspotSeed } from './seed';

export type Props = Record<string, string | null>;

export interface HsRecord {
  id: string;
  properties: Props;
  createdAt: string;
  updatedAt: string;
  archived: boolean;
}

export interface PropertyDefinition {
  name: string;
  label: string;
  type: 'string' | 'number' | 'datetime' | 'date' | 'bool' | 'enumeration';
  fieldType: string;
  groupName: string;
  hasUniqueValue?: boolean;
  calculated?: boolean;
  readOnly?: boolean;
}

/** The contracts custom object's names: its fully qualified short form and its objectTypeId. */
export const CONTRACT_TYPES = ['p_concord_contracts', '2-7530001'];
export const OBJECT_TYPES = ['companies', 'deals', 'line_items', 'contracts'] as const;
export type ObjectType = (typeof OBJECT_TYPES)[number];

/** The object a path segment names (`companies`, `0-2`, `p_concord_contracts`, ...), or null. */
export function objectTypeOf(segment: string): ObjectType | null {
  const aliases: Record<string, ObjectType> = { companies: 'companies', company: 'companies', '0-2': 'companies', deals: 'deals', deal: 'deals', '0-3': 'deals', line_items: 'line_items', line_item: 'line_items', '0-8': 'line_items' };
  if (aliases[segment]) return aliases[segment];
  return CONTRACT_TYPES.includes(segment) ? 'contracts' : null;
}

const p = (name: string, type: PropertyDefinition['type'] = 'string', extra: Partial<PropertyDefinition> = {}): PropertyDefinition => ({
  name,
  label: name,
  type,
  fieldType: type === 'number' ? 'number' : type === 'datetime' || type === 'date' ? 'date' : type === 'bool' ? 'booleancheckbox' : 'text',
  groupName: name.startsWith('concord_') ? 'concord' : 'companyinformation',
  ...extra,
});

const COMMON = [p('hs_object_id', 'number', { readOnly: true, calculated: true }), p('createdate', 'datetime', { readOnly: true }), p('hs_lastmodifieddate', 'datetime', { readOnly: true }), p('concord_correlation_id')];

export const PROPERTIES: Record<ObjectType, PropertyDefinition[]> = {
  companies: [
    ...COMMON,
    p('name'), p('domain'), p('hs_parent_company_id', 'number', { readOnly: true }),
    p('concord_billing_customer_id'), p('concord_erp_customer_id'), p('concord_status'), p('concord_customer_key', 'string', { hasUniqueValue: true }),
  ],
  deals: [
    ...COMMON,
    p('dealname'), p('dealstage', 'enumeration'), p('pipeline', 'enumeration'), p('amount', 'number'), p('closedate', 'datetime'), p('deal_currency_code', 'enumeration'),
    p('hs_is_closed_won', 'bool', { calculated: true, readOnly: true }), p('hs_is_closed', 'bool', { calculated: true, readOnly: true }),
    p('concord_billing_subscription_id'), p('concord_billing_invoice_id'), p('concord_erp_invoice_id'), p('concord_order_status'),
  ],
  line_items: [...COMMON, p('name'), p('description'), p('hs_sku'), p('quantity', 'number'), p('price', 'number'), p('amount', 'number')],
  contracts: [...COMMON, p('concord_company_id'), p('concord_contract_status'), p('concord_start_date', 'date'), p('concord_end_date', 'date'), p('concord_billing_subscription_id')],
};

/** HubSpot-defined association type ids (associations v4, "Association type id values"). */
export const ASSOCIATION_TYPES: Record<string, number> = {
  'deals->companies': 5,
  'companies->deals': 6,
  'deals->line_items': 19,
  'line_items->deals': 20,
  'companies->companies:parent': 13,
  'companies->companies:child': 14,
  'contracts->companies': 1,
  'companies->contracts': 2,
};

const STAGES: Record<string, string> = {
  Prospecting: 'appointmentscheduled',
  Qualification: 'qualifiedtobuy',
  'Negotiation/Review': 'contractsent',
  'Closed Won': 'closedwon',
  'Closed Lost': 'closedlost',
};

export interface HubSpotStore {
  objects: Record<ObjectType, Map<string, HsRecord>>;
  /** `type:id` -> `type:id` of the records it is associated with (both directions are stored). */
  associations: Map<string, Map<string, number>>;
  nextId(type: ObjectType): string;
  create(type: ObjectType, properties: Props, at?: string): HsRecord;
  write(record: HsRecord, type: ObjectType, properties: Props): void;
  associate(fromType: ObjectType, fromId: string, toType: ObjectType, toId: string, typeId: number, reverseTypeId: number): void;
  associated(fromType: ObjectType, fromId: string, toType: ObjectType): { id: string; typeId: number }[];
}

/** Calculated deal properties follow the stage (HubSpot: hs_is_closed_won / hs_is_closed). */
function calculate(type: ObjectType, record: HsRecord): void {
  record.properties.hs_object_id = record.id;
  if (type === 'deals') {
    const stage = record.properties.dealstage ?? '';
    record.properties.hs_is_closed_won = String(stage === 'closedwon');
    record.properties.hs_is_closed = String(stage === 'closedwon' || stage === 'closedlost');
  }
}

export function createHubSpotStore(inputSeed: Seed): HubSpotStore {
  const seed = hubspotSeed(inputSeed);
  const objects: HubSpotStore['objects'] = { companies: new Map(), deals: new Map(), line_items: new Map(), contracts: new Map() };
  const counters: Record<ObjectType, number> = { companies: 0, deals: 0, line_items: 0, contracts: 0 };
  const associations = new Map<string, Map<string, number>>();

  const store: HubSpotStore = {
    objects,
    associations,
    nextId(type) {
      let id: string;
      do id = hubspotId(type, ++counters[type]);
      while (objects[type].has(id));
      return id;
    },
    create(type, properties, at = new Date().toISOString()) {
      const id = properties.hs_object_id ?? store.nextId(type);
      const record: HsRecord = { id, properties: { ...properties, createdate: at, hs_lastmodifieddate: at }, createdAt: at, updatedAt: at, archived: false };
      calculate(type, record);
      objects[type].set(id, record);
      return record;
    },
    write(record, type, properties) {
      for (const [name, value] of Object.entries(properties)) record.properties[name] = value === '' ? null : value;
      const now = new Date();
      // Modification stamps strictly increase, as a change feed needs them to.
      const previous = Date.parse(record.updatedAt);
      const at = new Date(Math.max(now.getTime(), previous + 1)).toISOString();
      record.updatedAt = at;
      record.properties.hs_lastmodifieddate = at;
      calculate(type, record);
    },
    associate(fromType, fromId, toType, toId, typeId, reverseTypeId) {
      const link = (a: string, b: string, t: number) => {
        if (!associations.has(a)) associations.set(a, new Map());
        associations.get(a)!.set(b, t);
      };
      link(`${fromType}:${fromId}`, `${toType}:${toId}`, typeId);
      link(`${toType}:${toId}`, `${fromType}:${fromId}`, reverseTypeId);
    },
    associated(fromType, fromId, toType) {
      const out: { id: string; typeId: number }[] = [];
      for (const [key, typeId] of associations.get(`${fromType}:${fromId}`) ?? []) {
        const [type, id] = key.split(':');
        if (type === toType) out.push({ id, typeId });
      }
      return out;
    },
  };

  // Seed: the shared seed's customers, deals, lines and contracts.
  const productNames = new Map(seed.products.map((prod) => [prod.code, prod.name]));
  const invoices = new Map(seed.invoices.map((i) => [i.id, i]));
  for (const c of seed.customers) {
    store.create('companies', {
      hs_object_id: c.crmId,
      name: c.name,
      domain: c.domain,
      hs_parent_company_id: c.parentIndex === null ? null : seed.customers[c.parentIndex].crmId,
      concord_billing_customer_id: c.billingId,
      concord_erp_customer_id: c.erpId,
      concord_status: c.creditHold ? 'Credit Hold' : 'Active',
      concord_customer_key: null,
    }, c.createdAt);
  }
  for (const c of seed.customers) {
    if (c.parentIndex !== null) store.associate('companies', c.crmId, 'companies', seed.customers[c.parentIndex].crmId, ASSOCIATION_TYPES['companies->companies:child'], ASSOCIATION_TYPES['companies->companies:parent']);
  }
  for (const o of seed.opportunities) {
    const company = seed.customers[o.customerIndex];
    store.create('deals', {
      hs_object_id: o.crmId,
      dealname: o.name,
      dealstage: STAGES[o.stage] ?? 'appointmentscheduled',
      pipeline: 'default',
      amount: (o.amount / 100).toFixed(2),
      closedate: o.closeDate,
      deal_currency_code: 'USD',
      concord_billing_subscription_id: o.contractId,
      concord_billing_invoice_id: o.invoiceId,
      concord_erp_invoice_id: (o.invoiceId && invoices.get(o.invoiceId)?.posting?.erpId) || null,
      concord_order_status: o.contractId ? 'Completed' : null,
    }, company.createdAt);
    store.associate('deals', o.crmId, 'companies', company.crmId, ASSOCIATION_TYPES['deals->companies'], ASSOCIATION_TYPES['companies->deals']);
    for (const line of o.lines) {
      store.create('line_items', {
        hs_object_id: line.id,
        name: productNames.get(line.productCode) ?? line.productCode,
        hs_sku: line.productCode,
        quantity: String(line.quantity),
        price: (line.unitPrice / 100).toFixed(2),
        amount: ((line.quantity * line.unitPrice) / 100).toFixed(2),
      }, company.createdAt);
      store.associate('line_items', line.id, 'deals', o.crmId, ASSOCIATION_TYPES['line_items->deals'], ASSOCIATION_TYPES['deals->line_items']);
    }
  }
  seed.contracts.forEach((contract, i) => {
    const company = seed.customers[contract.customerIndex];
    const id = hubspotId('contracts', i + 1);
    store.create('contracts', {
      hs_object_id: id,
      concord_company_id: company.crmId,
      concord_contract_status: contract.status === 'incomplete' ? 'Draft' : 'Activated',
      concord_start_date: contract.startDate.slice(0, 10),
      concord_end_date: contract.endDate?.slice(0, 10) ?? null,
      concord_billing_subscription_id: contract.id,
    }, contract.startDate);
    store.associate('contracts', id, 'companies', company.crmId, ASSOCIATION_TYPES['contracts->companies'], ASSOCIATION_TYPES['companies->contracts']);
  });
  for (const type of OBJECT_TYPES) counters[type] = objects[type].size + 1000;
  return store;
}
