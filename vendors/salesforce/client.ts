/**
 * The one Salesforce client of a process: a jsforce Connection whose HTTP layer is observed
 * (transport.ts: timeouts, spans, metrics, jsforce's own retries off) and which remembers the org's
 * API usage from Sforce-Limit-Info. The CRM adapter and the change feed share it, so every call to
 * the org is counted in one place and read against one budget: its capacity gate (core/capacity.ts),
 * which every Concord process of the org shares and which each Sforce-Limit-Info answer updates.
 */
import { Connection } from 'jsforce';
import { createMemoryCapacityGovernor, type CapacityGate } from '../../core/capacity';
import type { VendorCallListener } from '../../core/vendor-call';
import { ObservedTransport } from './transport';

/** Where the org is and how Concord signs in: what a real deployment configures. */
export interface SalesforceSettings {
  /** Org base URL, for example https://acme.my.salesforce.com (or the simulator's URL). Required. */
  instanceUrl: string;
  /** OAuth access token (session id). Required; never logged or put in an error message. */
  accessToken: string;
}

export interface SalesforceClientOptions extends SalesforceSettings {
  /** REST API version. Default '62.0'. */
  apiVersion?: string;
  /** Abort a request without a response after this many ms. Default 10000. */
  requestTimeoutMs?: number;
  /** Told of every HTTP call made to Salesforce (operation, status, duration, API usage). */
  onCall?: VendorCallListener;
  /** The org's gate from the process's capacity governor (vendors/salesforce/index.ts). Default: one of this client's own. */
  gate?: CapacityGate;
}

export interface SalesforceClient {
  readonly conn: Connection;
  /** API usage as Salesforce last reported it (Sforce-Limit-Info); undefined before the first answer. */
  usage(): { used: number; max: number } | undefined;
  /** The org's capacity gate: every adapter and change-feed call runs through it. */
  readonly gate: CapacityGate;
}

export function createSalesforceClient(options: SalesforceClientOptions): SalesforceClient {
  const { instanceUrl, accessToken, apiVersion = '62.0', requestTimeoutMs = 10_000, onCall } = options;
  let usage: { used: number; max: number } | undefined;
  const gate = options.gate ?? createMemoryCapacityGovernor().gate({ system: 'CRM', vendor: 'salesforce', account: new URL(instanceUrl).host, daily: {} });
  const conn = new Connection({ instanceUrl, accessToken, version: apiVersion });
  conn._transport = new ObservedTransport({
    timeoutMs: requestTimeoutMs,
    onCall: (call) => {
      if (call.limit) {
        usage = call.limit;
        gate.report(call.limit);
      }
      onCall?.({ system: 'CRM', vendor: 'salesforce', ...call });
    },
  });
  return { conn, usage: () => usage, gate };
}
