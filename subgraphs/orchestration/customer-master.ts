/**
 * The customer master (upsertCustomer). The CRM is the system of record for identity, so the CRM
 * record is written first, in the request; billing and the ERP follow through a CUSTOMER_SYNC run
 * (customer-sync-steps.ts), durable and idempotent, which the caller can watch.
 *
 * Before a customer is created (or renamed), the three systems are searched for likely duplicates
 * (matching.ts: normalised name, domain, tax registration); if any are found the request is refused
 * with CONFLICT listing them, unless the caller confirms each one as another company.
 *
 * Idempotency: the caller's key. A create writes the CRM account by an external-id upsert on a key
 * derived from it, so a retry after a crash finds the account the first attempt made (and does not
 * take its own account for a duplicate); the run is found by the key, so a replay starts nothing new.
 */
import type { SystemName } from '../../core/canonical';
import { ConcordError } from '../../core/errors';
import type { Logger } from '../../core/log';
import { companyDomain, likelyDuplicates, normaliseDomain, searchTokens, type MatchOptions, type MatchReason, type Party } from './matching';
import { createIdentityReservations } from './identity-reservation';
import type { KeyValueStore } from './kv';
import type { Run } from './model';
import type { Ports } from './steps';
import { CUSTOMER_SYNC_PLAN, type CustomerSyncWorkflow } from './workflow-model';
import { inputHashOf, type WorkflowRunner } from './workflow-runs';

export interface UpsertCustomerInput {
  /** Canonical id (CRM account id) of the customer to update; absent = create one. */
  id?: string | null;
  name: string;
  /** Web domain or website. */
  domain?: string | null;
  email?: string | null;
  taxRegistration?: string | null;
  /** Canonical id of the parent account. */
  parentId?: string | null;
  idempotencyKey: string;
  /** Ids (canonical, or a record's own) of likely duplicates the caller confirms are other companies. */
  confirmNotDuplicateOf?: string[] | null;
}

/** One company that may be the one being created: its records in each system, and why. */
export interface DuplicateView {
  /** The canonical id when the records are linked to one, else the first record's id. */
  id: string;
  customerId: string | null;
  name: string;
  domain: string | null;
  taxRegistration: string | null;
  reasons: MatchReason[];
  records: { system: SystemName; id: string }[];
}

/** CONFLICT carrying the likely duplicates, in `extensions.duplicates` as well as in the message. */
export class DuplicateCustomerError extends ConcordError {
  constructor(readonly duplicates: DuplicateView[]) {
    const list = duplicates
      .map((d) => `${d.name} [${d.records.map((r) => `${r.system} ${r.id}`).join(', ')}] (${d.reasons.map((r) => r.toLowerCase().replace(/_/g, ' ')).join(', ')})`)
      .join('; ');
    super('CONFLICT', `likely duplicate${duplicates.length > 1 ? 's' : ''} of this customer: ${list}. Pass their ids in confirmNotDuplicateOf if they are other companies.`);
    this.name = 'DuplicateCustomerError';
  }

  override toExtensions(): Record<string, unknown> {
    return { ...super.toExtensions(), duplicates: this.duplicates.map((d) => ({ id: d.id, name: d.name, reasons: d.reasons, records: d.records })) };
  }
}

/**
 * CONFLICT as a portal sees it: its change collides with a record it may not see, so it is told
 * nothing about that record (no name, no id, not which field matched), and it cannot confirm the
 * collision away (confirmNotDuplicateOf is for operators, who can see both records).
 */
export class PortalDuplicateError extends ConcordError {
  constructor() {
    super('CONFLICT', 'this change matches a customer record that an operator must review first; nothing was changed');
    this.name = 'PortalDuplicateError';
  }
}

/** Who asks for an upsert: their key namespace, and whether they are a portal (one customer). */
export interface UpsertCaller {
  /** The caller's scope (core/principal.ts callerScope): its idempotency keys are its own. */
  owner?: string | null;
  /** A portal token: duplicate details are withheld and the parent account may not change. */
  portal?: boolean;
}

export interface CustomerMasterOptions {
  ports: Ports;
  workflows: WorkflowRunner;
  /** Where creates reserve the identity they are creating (shared by every process). */
  kv: KeyValueStore;
  logger: Logger;
  /** How long upsertCustomer waits for the sync to settle before answering, in ms. Default 8000. */
  waitMs?: number;
  /**
   * How long a create's reservation of its identity lasts, in ms. Default 600000 (10 minutes):
   * past the time billing's and the ERP's search take to show the new records; the CRM account,
   * which the duplicate check reads without lag, takes over from it.
   */
  reservationMs?: number;
}

export interface CustomerMaster {
  /** Create or update the customer: CRM now, billing and ERP through the returned run. */
  upsert(input: UpsertCustomerInput, correlationId: string, caller?: UpsertCaller): Promise<{ customerId: string; run: Run }>;
  /** Likely duplicates of a would-be customer across the three systems (`excludeCustomerId`: itself). */
  findDuplicates(criteria: { name: string; domain?: string | null; email?: string | null; taxRegistration?: string | null; parentId?: string | null }, excludeCustomerId?: string | null): Promise<DuplicateView[]>;
}

const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,255}$/;

function clean(value: string | null | undefined, field: string, max: number): string | null {
  if (value === null || value === undefined) return null;
  const trimmed = value.trim();
  if (trimmed === '') return null;
  if (trimmed.length > max) throw new ConcordError('BAD_USER_INPUT', `${field} is longer than ${max} characters`);
  return trimmed;
}

export function createCustomerMaster(options: CustomerMasterOptions): CustomerMaster {
  const { ports, workflows, kv, logger, waitMs = 8000, reservationMs = 600_000 } = options;
  const identity = createIdentityReservations({ kv, ttlMs: reservationMs });

  async function findDuplicates(
    criteria: { name: string; domain?: string | null; email?: string | null; taxRegistration?: string | null; parentId?: string | null },
    excludeCustomerId: string | null = null,
    excludeCrmIds: readonly string[] = [],
    matchOptions: MatchOptions = {},
  ): Promise<DuplicateView[]> {
    const tokens = searchTokens(criteria.name);
    const domain = companyDomain(criteria.domain) ?? companyDomain(criteria.email);
    const tax = criteria.taxRegistration ?? null;
    // One coarse query per system; matching.ts decides what is a likely duplicate.
    const [crm, billing, erp] = await Promise.all([
      ports.crm.findAccountCandidates({ nameTokens: tokens, domain }),
      ports.billing.findCustomerCandidates({ nameTokens: tokens, emailDomain: domain }),
      ports.erp.findCustomerCandidates({ nameTokens: tokens, taxRegistration: tax, emailDomain: domain }),
    ]);
    const taxOf = new Map(erp.filter((e) => e.customerId).map((e) => [e.customerId, e.taxRegistration]));
    const candidates: Party[] = [
      ...crm.map((a): Party => ({ system: 'CRM', id: a.id, customerId: a.id, name: a.name, domain: a.domain, taxRegistration: taxOf.get(a.id) ?? null, parentId: a.parentId })),
      ...billing.map((c): Party => ({ system: 'BILLING', id: c.id, customerId: c.customerId || null, name: c.name, domain: c.email, taxRegistration: null })),
      ...erp.map((e): Party => ({ system: 'ERP', id: e.internalId, customerId: e.customerId || null, name: e.companyName, domain: e.email, taxRegistration: e.taxRegistration })),
    ].filter((p) => !(excludeCustomerId && p.customerId === excludeCustomerId) && !(p.system === 'CRM' && excludeCrmIds.includes(p.id)));
    const subject: Party = {
      system: 'CRM',
      id: excludeCustomerId ?? 'new',
      customerId: excludeCustomerId,
      name: criteria.name,
      domain: criteria.domain ?? criteria.email ?? null,
      taxRegistration: tax,
      parentId: criteria.parentId ?? null,
    };
    // One entry per company: a customer's records in the three systems are listed together.
    const byCompany = new Map<string, DuplicateView>();
    for (const { party, reasons } of likelyDuplicates(subject, candidates, matchOptions)) {
      const id = party.customerId ?? party.id;
      const view = byCompany.get(id) ?? {
        id,
        customerId: party.customerId,
        name: party.name ?? id,
        domain: normaliseDomain(party.domain),
        taxRegistration: party.taxRegistration,
        reasons: [],
        records: [],
      };
      if (party.system === 'CRM' && party.name) view.name = party.name;
      view.taxRegistration ??= party.taxRegistration;
      view.reasons = [...new Set([...view.reasons, ...reasons])].sort();
      view.records.push({ system: party.system, id: party.id });
      byCompany.set(id, view);
    }
    return [...byCompany.values()];
  }

  function refuseUnconfirmed(duplicates: DuplicateView[], confirmed: readonly string[], portal: boolean): void {
    if (portal && duplicates.length > 0) throw new PortalDuplicateError();
    const ok = new Set(confirmed);
    const open = duplicates.filter((d) => !ok.has(d.id) && !(d.customerId && ok.has(d.customerId)) && !d.records.some((r) => ok.has(r.id)));
    if (open.length > 0) throw new DuplicateCustomerError(open);
  }

  async function assertParentExists(parentId: string | null): Promise<void> {
    if (parentId !== null && !(await ports.crm.getAccounts([parentId])).get(parentId)) {
      throw new ConcordError('BAD_USER_INPUT', `parentId ${parentId} is not a customer`);
    }
  }

  async function upsert(input: UpsertCustomerInput, correlationId: string, caller: UpsertCaller = {}): Promise<{ customerId: string; run: Run }> {
    const { owner = null, portal = false } = caller;
    const name = clean(input.name, 'name', 255);
    if (!name) throw new ConcordError('BAD_USER_INPUT', 'name must not be empty');
    const rawDomain = clean(input.domain, 'domain', 255);
    const domain = rawDomain === null ? null : normaliseDomain(rawDomain);
    if (rawDomain !== null && !domain) throw new ConcordError('BAD_USER_INPUT', `domain ${JSON.stringify(rawDomain.slice(0, 60))} is not a web domain`);
    const email = clean(input.email, 'email', 320);
    if (email && !EMAIL.test(email)) throw new ConcordError('BAD_USER_INPUT', 'email is not an email address');
    const taxRegistration = clean(input.taxRegistration, 'taxRegistration', 40);
    if (taxRegistration && !/^[A-Za-z0-9 ._/-]+$/.test(taxRegistration)) {
      throw new ConcordError('BAD_USER_INPUT', 'taxRegistration may hold only letters, digits, spaces and . _ / -');
    }
    const parentId = clean(input.parentId, 'parentId', 18);
    // Absent leaves the parent as it is; an explicit null (or blank) removes it.
    const clearParent = input.parentId !== undefined && parentId === null;
    const id = clean(input.id, 'id', 18);
    if (parentId !== null && parentId === id) throw new ConcordError('BAD_USER_INPUT', 'a customer cannot be its own parent');
    const fields = { name, domain, email, taxRegistration, parentId };
    const inputHash = inputHashOf({ id, ...fields, ...(clearParent ? { clearParent } : {}) });

    // One request of a key begins at a time; a replay while the first is in flight gets its run.
    const { run } = await workflows.once('CUSTOMER_SYNC', input.idempotencyKey, inputHash, () => begin(), owner);
    if (run.workflow?.kind !== 'CUSTOMER_SYNC') throw new ConcordError('INTERNAL', `run ${run.id} is not a customer sync`);
    return { customerId: run.workflow.customer.customerId, run: await workflows.awaitSettled(run.id, waitMs) };

    async function begin(): Promise<Run> {
    const { name, domain, email, taxRegistration, parentId } = fields;

    let customerId: string;
    let created: boolean;
    let prepare: (() => Promise<void>) | undefined;
    if (id === null) {
      // The account this key already made (a retry after a crash) is ours, not a duplicate.
      const crmKey = owner ? `cm:${owner}:${input.idempotencyKey}` : `cm:${input.idempotencyKey}`;
      await assertParentExists(parentId);
      // Detection and creation are one decision across processes: the normalised identity is
      // reserved first, so of concurrent creates of one company only one goes on (the others get
      // CONFLICT naming it); billing's search, which lags writes, is never what decides.
      const held = await identity.reserve({ name, taxRegistration }, input.idempotencyKey, portal ? [] : (input.confirmNotDuplicateOf ?? []));
      let account: { id: string; created: boolean };
      try {
        const own = await ports.crm.findAccountByKey(crmKey);
        if (!own) refuseUnconfirmed(await findDuplicates(fields), portal ? [] : (input.confirmNotDuplicateOf ?? []), portal);
        account = await ports.crm.upsertAccountByKey(crmKey, { name, domain, parentId, correlationId });
      } catch (error) {
        // Nothing was created under the reservation: the identity is free again.
        await held.release();
        throw error;
      }
      // Kept (with the customer it made) until it expires: by then every system's search shows it.
      await held.settle(account.id);
      customerId = account.id;
      created = true;
      logger.info({ customerId, correlationId, created: account.created }, 'customer master: CRM account written');
    } else {
      const account = (await ports.crm.getAccounts([id])).get(id);
      if (!account) throw new ConcordError('NOT_FOUND', `no customer ${id}`);
      customerId = account.id;
      created = false;
      if (parentId !== account.parentId && (parentId !== null || clearParent)) {
        // The parent points at another record: a portal sees only its own customer, so it may not
        // attach itself to (or detach itself from) another one; parent/child pairs also skip the
        // duplicate check, which a chosen parent would otherwise turn off.
        // The message names neither the old parent nor the new one.
        if (portal) throw new ConcordError('FORBIDDEN', "a customer portal token may not change its customer's parent account");
        await assertParentExists(parentId);
      }
      // A rename (or a new domain or tax id) may make it collide with another company.
      // A portal keeping its parent may not take its parent's or its child's very name either.
      refuseUnconfirmed(await findDuplicates(fields, customerId, [customerId], { relativesKeepTheirNames: portal }), portal ? [] : (input.confirmNotDuplicateOf ?? []), portal);
      // Written once the customer is held, so two updates of one customer cannot interleave.
      prepare = () =>
        ports.crm.updateAccount(customerId, {
          name,
          ...(domain ? { domain } : {}),
          ...(parentId ? { parentId } : clearParent ? { parentId: null } : {}),
          correlationId,
        });
    }

    const workflow: CustomerSyncWorkflow = {
      kind: 'CUSTOMER_SYNC',
      customer: { customerId, name, email, taxRegistration },
      created,
      links: { erpCustomerId: null, billingCustomerId: null, creditHold: null },
    };
    const { run } = await workflows.start({
      kind: 'CUSTOMER_SYNC',
      idempotencyKey: input.idempotencyKey,
      owner,
      inputHash,
      subject: `customer:${customerId}`,
      exclusive: true,
      steps: CUSTOMER_SYNC_PLAN,
      workflow,
      correlationId,
      customerId,
      prepare,
    });
    return run;
    }
  }

  return { upsert, findDuplicates: (criteria, exclude) => findDuplicates(criteria, exclude ?? null, exclude ? [exclude] : []) };
}
