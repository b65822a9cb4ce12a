/**
 * The NetSuite module: everything Concord says to a NetSuite account goes through here. One client
 * per process (client.ts: OAuth 1.0a TBA signing, the account's capacity gate, timeouts, metrics), the ERP
 * port adapter (adapter.ts, errors mapped in errors.ts), the SuiteQL change feed (changes.ts) and
 * the account's concurrency limit as metrics and the ops console read it. Adapter and feed share
 * the one client, so the feed's requests count against the same concurrency as the adapter's.
 */
import { createMemoryCapacityGovernor, type CapacityDescriptor, type CapacityGovernor } from '../../core/capacity';
import type { VendorCallListener, VendorLimitPolicy } from '../../core/vendor-call';
import type { ErpPort } from '../../subgraphs/erp/port';
import type { ChangeFeed } from '../../subgraphs/events/poller';
import { createNetSuiteAdapter } from './adapter';
import { createNetSuiteChangeFeed } from './changes';
import { createNetSuiteClient } from './client';

/** What a real deployment configures for its NetSuite account (TBA credentials of the integration). */
export interface NetSuiteSettings {
  /** REST root: `https://{accountId}.suitetalk.api.netsuite.com`, or a simulator URL. */
  baseUrl: string;
  /** Account id, the OAuth realm (for example '1234567' or '1234567_SB1'). */
  accountId: string;
  consumerKey: string;
  consumerSecret: string;
  tokenId: string;
  tokenSecret: string;
  /** Requests in flight at once this integration may use of the account's limit, across all processes. Default 5 (CONCORD_ERP_CONCURRENCY). */
  concurrency?: number;
}

export interface NetSuiteModule {
  port: ErpPort;
  changeFeed: ChangeFeed;
  limits: VendorLimitPolicy;
  capacity: CapacityDescriptor;
}

/** The account's concurrency limit, the share Concord keeps to. */
export const netsuiteLimits = (concurrency: number): VendorLimitPolicy => ({ system: 'ERP', kind: 'CONCURRENT_REQUESTS', max: concurrency });

/**
 * The account's capacity: NetSuite limits concurrent requests per account (SuiteTalk REST and
 * SOAP together, "Concurrency Governance"), so every process of the account shares one count.
 */
export const netsuiteCapacity = (settings: Pick<NetSuiteSettings, 'accountId' | 'concurrency'>): CapacityDescriptor => ({
  system: 'ERP',
  vendor: 'netsuite',
  account: settings.accountId,
  concurrency: settings.concurrency ?? 5,
});

export function createNetSuiteModule(settings: NetSuiteSettings, options: { onCall?: VendorCallListener; governor?: CapacityGovernor } = {}): NetSuiteModule {
  const { concurrency = 5 } = settings;
  const governor = options.governor ?? createMemoryCapacityGovernor();
  const client = createNetSuiteClient({ ...settings, concurrency, gate: governor.gate(netsuiteCapacity(settings)), onCall: options.onCall });
  return {
    port: createNetSuiteAdapter({ ...settings, client }),
    changeFeed: createNetSuiteChangeFeed({ client }),
    limits: netsuiteLimits(concurrency),
    capacity: netsuiteCapacity(settings),
  };
}
