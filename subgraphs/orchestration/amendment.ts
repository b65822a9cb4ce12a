/**
 * Contract amendments (amendContract): item, price (a product swap), quantity and end-date changes
 * of an active contract, propagated through a CONTRACT_AMENDMENT run (amendment-steps.ts) to billing,
 * which prorates, and to the ERP, which gets the adjustment.
 *
 * What is checked here, before anything changes: the contract exists and is active, the changes
 * make sense against its items and change something, and the ERP's current period is open (an
 * adjustment into a closed period is refused now, as PERIOD_CLOSED, with nothing changed). A period
 * that closes while the run is under way makes the run undo itself (compensation), so the
 * amendment is never half-applied. One amendment of a contract at a time.
 */
import { ConcordError } from '../../core/errors';
import type { Logger } from '../../core/log';
import type { AmendedItem } from '../billing/port';
import type { Run } from './model';
import type { Ports } from './steps';
import { AMENDMENT_PLAN, type AmendmentWorkflow } from './workflow-model';
import { inputHashOf, type WorkflowRunner } from './workflow-runs';

export interface AmendContractInput {
  contractId: string;
  idempotencyKey: string;
  /** Items to change: the quantity each should have (0 removes), or a product replacing another. */
  items?: AmendedItem[] | null;
  /** New scheduled end (ISO date-time); null removes a scheduled end; absent leaves it. */
  endDate?: string | null;
}

export interface AmendmentsOptions {
  ports: Ports;
  workflows: WorkflowRunner;
  logger: Logger;
  /** How long amendContract waits for the run to settle before answering, in ms. Default 8000. */
  waitMs?: number;
  /** Clock, for tests. */
  now?: () => Date;
}

export interface AmendOptions {
  /** Called with the contract's customer before anything changes; throw to refuse (portal isolation). */
  authorize?: (customerId: string | null) => void;
  /** The caller's scope: its idempotency keys are its own (caller-keys.ts). */
  owner?: string | null;
}

export interface Amendments {
  amend(input: AmendContractInput, correlationId: string, options?: AmendOptions): Promise<{ contractId: string; run: Run }>;
}

const MAX_QUANTITY = 1_000_000;

export function createAmendments(options: AmendmentsOptions): Amendments {
  const { ports, workflows, logger, waitMs = 8000, now = () => new Date() } = options;

  function checkItems(items: AmendedItem[]): AmendedItem[] {
    const seen = new Set<string>();
    return items.map((item) => {
      const productCode = item.productCode?.trim();
      if (!productCode || productCode.length > 100) throw new ConcordError('BAD_USER_INPUT', 'every item needs a productCode');
      if (!Number.isInteger(item.quantity) || item.quantity < 0 || item.quantity > MAX_QUANTITY) {
        throw new ConcordError('BAD_USER_INPUT', `quantity of ${productCode} must be an integer from 0 to ${MAX_QUANTITY}`);
      }
      const replaces = item.replacesProductCode?.trim() || null;
      for (const code of [productCode, replaces]) {
        if (code && seen.has(code)) throw new ConcordError('BAD_USER_INPUT', `${code} is named twice in one amendment`);
        if (code) seen.add(code);
      }
      if (replaces && item.quantity === 0) throw new ConcordError('BAD_USER_INPUT', `replacing ${replaces} needs a quantity above 0`);
      return replaces ? { productCode, quantity: item.quantity, replacesProductCode: replaces } : { productCode, quantity: item.quantity };
    });
  }

  async function amend(input: AmendContractInput, correlationId: string, options: AmendOptions = {}): Promise<{ contractId: string; run: Run }> {
    const { authorize, owner } = options;
    const contractId = input.contractId?.trim();
    if (!contractId) throw new ConcordError('BAD_USER_INPUT', 'contractId is required');
    const items = checkItems(input.items ?? []);
    let endDate: string | null | undefined;
    if (input.endDate !== undefined) {
      if (input.endDate === null) endDate = null;
      else {
        const ms = Date.parse(input.endDate);
        if (Number.isNaN(ms)) throw new ConcordError('BAD_USER_INPUT', 'endDate must be an ISO date-time');
        if (ms <= now().getTime()) throw new ConcordError('VALIDATION_FAILED', 'endDate must be in the future');
        endDate = new Date(ms).toISOString();
      }
    }
    const inputHash = inputHashOf({ contractId, items, endDate });
    // One request of a key begins at a time; a replay while the first is in flight gets its run.
    const { run: begun, replayed } = await workflows.once('CONTRACT_AMENDMENT', input.idempotencyKey, inputHash, async () => {
      const contract = (await ports.billing.getContracts([contractId])).get(contractId);
      // A contract that does not exist is refused as one of another customer's is (portal isolation).
      authorize?.(contract?.customerId ?? null);
      if (!contract) throw new ConcordError('NOT_FOUND', `no contract ${contractId}`);
      if (contract.status !== 'ACTIVE') {
        throw new ConcordError('VALIDATION_FAILED', `only an active contract can be amended; ${contractId} is ${contract.status}`);
      }
      const current = new Map(contract.items.map((i) => [i.productCode ?? '', i.quantity]));
      const changes = items.filter((change) => {
        if (change.replacesProductCode) {
          if (!current.has(change.replacesProductCode)) {
            throw new ConcordError('VALIDATION_FAILED', `contract ${contractId} has no ${change.replacesProductCode} item to replace`);
          }
          if (current.has(change.productCode)) throw new ConcordError('VALIDATION_FAILED', `contract ${contractId} already has ${change.productCode}`);
          return true;
        }
        // Naming an item at the quantity it already has changes nothing.
        return (current.get(change.productCode) ?? 0) !== change.quantity;
      });
      const remaining = new Map(current);
      for (const change of changes) {
        if (change.replacesProductCode) remaining.delete(change.replacesProductCode);
        if (change.quantity === 0) remaining.delete(change.productCode);
        else remaining.set(change.productCode, change.quantity);
      }
      if (remaining.size === 0) throw new ConcordError('VALIDATION_FAILED', 'an amendment cannot remove every item; cancel the contract instead');
      const endChanges = endDate !== undefined && endDate !== contract.endDate;
      if (changes.length === 0 && !endChanges) throw new ConcordError('VALIDATION_FAILED', 'the amendment changes nothing on the contract');

      if (!ports.billing.capabilities.prorationCredits) {
        // The billing system credits a prorated decrease on a credit note of its own, which this
        // saga cannot hold back and post to the ERP: refused before anything changes.
        const priceOf = new Map(contract.items.map((i) => [i.productCode ?? '', Number(i.unitPrice.amount)]));
        const lowers = changes.some((change) =>
          change.replacesProductCode ? false : change.quantity < (current.get(change.productCode) ?? 0) && (priceOf.get(change.productCode) ?? 0) > 0,
        );
        if (lowers) {
          throw new ConcordError('VALIDATION_FAILED', 'the billing system credits a lower quantity on a credit note, which amendments do not post; nothing was changed', { system: 'BILLING', retryable: false });
        }
      }

      if (changes.length > 0) {
        // Refused now, with nothing changed, rather than billed and then undone.
        const period = now().toISOString().slice(0, 7);
        if ((await ports.erp.closedPeriods()).includes(period)) {
          throw new ConcordError('PERIOD_CLOSED', `the ERP period ${period} is closed, so the adjustment cannot be posted; nothing was changed`, {
            system: 'ERP',
            retryable: false,
          });
        }
      }

      const workflow: AmendmentWorkflow = {
        kind: 'CONTRACT_AMENDMENT',
        contractId,
        customerId: contract.customerId,
        items: changes,
        ...(endChanges ? { endDate } : {}),
        prorationDate: Math.floor(now().getTime() / 1000),
        before: { items: contract.items.map((i) => ({ productCode: i.productCode ?? '', quantity: i.quantity })), endDate: contract.endDate },
        invoice: null,
        erpDocument: null,
      };
      const { run } = await workflows.start({
        kind: 'CONTRACT_AMENDMENT',
        idempotencyKey: input.idempotencyKey,
        owner,
        inputHash,
        subject: `contract:${contractId}`,
        exclusive: true,
        steps: AMENDMENT_PLAN,
        workflow,
        correlationId,
        customerId: contract.customerId,
      });
      logger.info({ runId: run.id, contractId, correlationId }, 'amendment started');
      return run;
    }, owner);
    if (replayed && begun.workflow?.kind === 'CONTRACT_AMENDMENT') authorize?.(begun.workflow.customerId);
    return { contractId, run: await workflows.awaitSettled(begun.id, waitMs) };
  }

  return { amend };
}
