/**
 * The Salesforce module: everything Concord says to a Salesforce org goes through here. One client
 * per process (client.ts: jsforce, observed transport, API usage), the CRM port adapter
 * (adapter.ts, errors mapped in errors.ts), the change feed the poller runs (changes.ts), and the
 * org's limit as metrics and the ops console read it.
 */
import { createMemoryCapacityGovernor, type CapacityDescriptor, type CapacityGovernor } from '../../core/capacity';
import type { VendorCallListener, VendorLimitPolicy } from '../../core/vendor-call';
import type { CrmPort } from '../../subgraphs/crm/port';
import type { ChangeFeed } from '../../subgraphs/events/poller';
import { createSalesforceAdapter } from './adapter';
import { createSalesforceChangeFeed } from './changes';
import { createSalesforceClient, type SalesforceSettings } from './client';

export type { SalesforceSettings } from './client';

/** The org's 24-hour API request allocation, which Salesforce reports on every answer (Sforce-Limit-Info). */
export const salesforceLimits: VendorLimitPolicy = { system: 'CRM', kind: 'DAILY_REQUESTS', reported: true };

export interface SalesforceModule {
  port: CrmPort;
  changeFeed: ChangeFeed;
  limits: VendorLimitPolicy;
  capacity: CapacityDescriptor;
}

/**
 * The org's capacity: its rolling 24-hour API request allocation, which Salesforce reports on every
 * answer (Sforce-Limit-Info: api-usage=used/max; REST API Developer Guide, "Limits"). Bulk work
 * (reconciliation, change polling) is refused from 90% of it and interactive reads from 97%, so
 * what is left goes to saga steps; only Salesforce itself refuses those (REQUEST_LIMIT_EXCEEDED).
 */
export const salesforceCapacity = (settings: Pick<SalesforceSettings, 'instanceUrl'>): CapacityDescriptor => ({
  system: 'CRM',
  vendor: 'salesforce',
  account: new URL(settings.instanceUrl).host,
  daily: { bulk: 0.9, interactive: 0.97 },
});

export function createSalesforceModule(settings: SalesforceSettings, options: { onCall?: VendorCallListener; governor?: CapacityGovernor } = {}): SalesforceModule {
  const governor = options.governor ?? createMemoryCapacityGovernor();
  const client = createSalesforceClient({ ...settings, gate: governor.gate(salesforceCapacity(settings)), onCall: options.onCall });
  return {
    port: createSalesforceAdapter({ ...settings, client }),
    changeFeed: createSalesforceChangeFeed({ client }),
    limits: salesforceLimits,
    capacity: salesforceCapacity(settings),
  };
}
