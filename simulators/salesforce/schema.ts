/**
 * The slice of the Salesforce data model the simulator holds: four sObjects with the standard and
 * custom fields Concord uses, their relationships and which fields may be written. The store, the
 * SOQL evaluator and describe all read these definitions, so a field exists in one place only.
 */
import { SF_PREFIX } from '../common/seed';

export type SObjectName = 'Account' | 'Opportunity' | 'OpportunityLineItem' | 'Contract';

export type FieldType =
  | 'id'
  | 'reference'
  | 'string'
  | 'url'
  | 'picklist'
  | 'textarea'
  | 'boolean'
  | 'currency'
  | 'double'
  | 'int'
  | 'date'
  | 'datetime';

export interface FieldDef {
  name: string;
  type: FieldType;
  label: string;
  /** False for system and formula fields (Salesforce rejects them with INVALID_FIELD_FOR_INSERT_UPDATE). */
  writable: boolean;
  /** Must be given on create (REQUIRED_FIELD_MISSING otherwise). */
  required?: boolean;
  /** Usable in /sobjects/{Type}/{field}/{value} upserts. */
  externalId?: boolean;
  /** Salesforce refuses a second record with the same value (DUPLICATE_VALUE). */
  unique?: boolean;
  /** For references: the parent object and the relationship name used in SOQL paths. */
  referenceTo?: SObjectName;
  relationshipName?: string;
  /** Allowed values of a restricted picklist. */
  values?: readonly string[];
}

export interface ChildRelationship {
  /** Name used in subqueries: (SELECT Id FROM Opportunities). */
  relationshipName: string;
  childObject: SObjectName;
  /** The child's reference field pointing at the parent. */
  field: string;
}

export interface SObjectDef {
  name: SObjectName;
  label: string;
  keyPrefix: string;
  fields: FieldDef[];
  children: ChildRelationship[];
}

export const OPPORTUNITY_STAGES = [
  'Prospecting',
  'Qualification',
  'Needs Analysis',
  'Value Proposition',
  'Negotiation/Review',
  'Closed Won',
  'Closed Lost',
] as const;

const field = (name: string, type: FieldType, extra: Partial<FieldDef> = {}): FieldDef => ({
  name,
  type,
  label: name.replace(/__c$/, '').replace(/_/g, ' '),
  writable: true,
  ...extra,
});

/** System fields every object carries; never writable. */
const system = (): FieldDef[] => [
  field('CreatedDate', 'datetime', { writable: false }),
  field('LastModifiedDate', 'datetime', { writable: false }),
  field('SystemModstamp', 'datetime', { writable: false }),
];

const ID = field('Id', 'id', { writable: false });
const CORRELATION = field('Concord_Correlation_Id__c', 'string');

export const SCHEMA: Record<SObjectName, SObjectDef> = {
  Account: {
    name: 'Account',
    label: 'Account',
    keyPrefix: SF_PREFIX.Account,
    fields: [
      ID,
      field('Name', 'string', { required: true }),
      field('Website', 'url'),
      field('ParentId', 'reference', { referenceTo: 'Account', relationshipName: 'Parent' }),
      field('Billing_Customer_Id__c', 'string', { externalId: true }),
      field('ERP_Customer_Id__c', 'string', { externalId: true }),
      field('Concord_Status__c', 'string'),
      // The customer master's idempotency key: upsertCustomer creates accounts by an external-id upsert on it.
      field('Concord_Customer_Key__c', 'string', { externalId: true, unique: true }),
      CORRELATION,
      ...system(),
    ],
    children: [
      { relationshipName: 'ChildAccounts', childObject: 'Account', field: 'ParentId' },
      { relationshipName: 'Opportunities', childObject: 'Opportunity', field: 'AccountId' },
      { relationshipName: 'Contracts', childObject: 'Contract', field: 'AccountId' },
    ],
  },
  Opportunity: {
    name: 'Opportunity',
    label: 'Opportunity',
    keyPrefix: SF_PREFIX.Opportunity,
    fields: [
      ID,
      field('AccountId', 'reference', { referenceTo: 'Account', relationshipName: 'Account' }),
      field('Name', 'string', { required: true }),
      field('StageName', 'picklist', { required: true, values: OPPORTUNITY_STAGES }),
      field('IsWon', 'boolean', { writable: false }),
      field('IsClosed', 'boolean', { writable: false }),
      field('Amount', 'currency'),
      field('CloseDate', 'date', { required: true }),
      field('Billing_Subscription_Id__c', 'string'),
      field('Billing_Invoice_Id__c', 'string'),
      field('ERP_Invoice_Id__c', 'string'),
      field('Concord_Order_Status__c', 'string'),
      field('Concord_Order_Key__c', 'string', { externalId: true, unique: true }),
      CORRELATION,
      ...system(),
    ],
    children: [{ relationshipName: 'OpportunityLineItems', childObject: 'OpportunityLineItem', field: 'OpportunityId' }],
  },
  OpportunityLineItem: {
    name: 'OpportunityLineItem',
    label: 'Opportunity Product',
    keyPrefix: SF_PREFIX.OpportunityLineItem,
    fields: [
      ID,
      field('OpportunityId', 'reference', { required: true, referenceTo: 'Opportunity', relationshipName: 'Opportunity' }),
      // Real orgs derive ProductCode and Name from the Product2 behind a PricebookEntry; the
      // simulator keeps no price books, so it lets them be written directly.
      field('ProductCode', 'string'),
      field('Name', 'string'),
      field('Description', 'textarea'),
      field('Quantity', 'double', { required: true }),
      field('UnitPrice', 'currency', { required: true }),
      field('TotalPrice', 'currency', { writable: false }),
      ...system(),
    ],
    children: [],
  },
  Contract: {
    name: 'Contract',
    label: 'Contract',
    keyPrefix: SF_PREFIX.Contract,
    fields: [
      ID,
      field('AccountId', 'reference', { required: true, referenceTo: 'Account', relationshipName: 'Account' }),
      field('Status', 'picklist', { values: ['Draft', 'In Approval Process', 'Activated'] }),
      field('StartDate', 'date'),
      field('EndDate', 'date'),
      field('ContractTerm', 'int'),
      field('Billing_Subscription_Id__c', 'string', { externalId: true }),
      CORRELATION,
      ...system(),
    ],
    children: [],
  },
};

export const SOBJECT_NAMES = Object.keys(SCHEMA) as SObjectName[];

/** sObject names are case-insensitive in URLs and SOQL; returns the canonical name. */
export function findObject(name: string): SObjectDef | undefined {
  const lower = name.toLowerCase();
  return SOBJECT_NAMES.map((n) => SCHEMA[n]).find((def) => def.name.toLowerCase() === lower);
}

/** Field names are case-insensitive too. */
export function findField(def: SObjectDef, name: string): FieldDef | undefined {
  const lower = name.toLowerCase();
  return def.fields.find((f) => f.name.toLowerCase() === lower);
}

export function findParentRelationship(def: SObjectDef, name: string): FieldDef | undefined {
  const lower = name.toLowerCase();
  return def.fields.find((f) => f.relationshipName?.toLowerCase() === lower);
}

export function findChildRelationship(def: SObjectDef, name: string): ChildRelationship | undefined {
  const lower = name.toLowerCase();
  return def.children.find((c) => c.relationshipName.toLowerCase() === lower);
}

/** The object an id belongs to, by its key prefix. */
export function objectForId(id: string): SObjectDef | undefined {
  return SOBJECT_NAMES.map((n) => SCHEMA[n]).find((def) => id.startsWith(def.keyPrefix));
}
