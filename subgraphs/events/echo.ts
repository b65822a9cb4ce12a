/**
 * Echo suppression for change polling. Concord announces its own changes itself (runs, the
 * customer master, reactions), so the pollers should report only changes made elsewhere (someone
 * in the Salesforce UI, finance in NetSuite, another integration). Neither simulator records who
 * changed a record, so Concord marks each customer record it writes, for a while, and the pollers
 * skip customer changes of a marked record.
 *
 * The cost of the mark: a change made by someone else to the same record within `ttlMs` of
 * Concord's write is not reported either (with Salesforce's LastModifiedById or NetSuite's system
 * notes, attribution could be exact; see docs/events.md).
 */
import type { Coordination } from '../../core/events/coordination';
import type { Ports } from '../orchestration/steps';

/**
 * The mark of a customer record written by Concord, per system (poller.ts checks it against the
 * polled event's `source`): the same whichever vendor serves the system.
 */
export const echoMark = (system: 'CRM' | 'ERP', customerId: string) => `echo:${system.toLowerCase()}:${customerId}`;

/**
 * The ports, with every write to a customer record marked first (after, when the id is only known
 * from the write). Reads and other writes pass through untouched.
 */
export function markConcordWrites(ports: Ports, coordination: Coordination, ttlMs: number): Ports {
  const mark = (system: 'CRM' | 'ERP', id: string) => coordination.mark(echoMark(system, id), ttlMs).catch(() => undefined);
  const crm = Object.create(ports.crm) as Ports['crm'];
  crm.updateAccount = async (id, fields) => {
    await mark('CRM', id);
    return ports.crm.updateAccount(id, fields);
  };
  crm.upsertAccountByKey = async (key, fields) => {
    const result = await ports.crm.upsertAccountByKey(key, fields);
    await mark('CRM', result.id);
    return result;
  };
  const erp = Object.create(ports.erp) as Ports['erp'];
  erp.upsertCustomer = async (input, options) => {
    await mark('ERP', input.customerId);
    return ports.erp.upsertCustomer(input, options);
  };
  erp.setCreditHold = async (customerId, hold, options) => {
    await mark('ERP', customerId);
    return ports.erp.setCreditHold(customerId, hold, options);
  };
  return { ...ports, crm, erp };
}
