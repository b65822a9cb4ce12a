/** Helpers for the Salesforce simulator and adapter tests: a jsforce connection and raw HTTP calls. */
import { Connection } from 'jsforce';
import type { FaultConfig, SimServer, SimStats } from '../../simulators/common/sim-server';
import { startSalesforceSimulator, type SalesforceSimulatorOptions } from '../../simulators/salesforce/server';

export const API = '/services/data/v62.0';
export const TOKEN = 'test-session-token';

export function startSim(options: SalesforceSimulatorOptions = {}): Promise<SimServer> {
  return startSalesforceSimulator(options);
}

/** jsforce pointed at the simulator, exactly as at a real org but for the instance URL. */
export function connect(sim: SimServer, accessToken = TOKEN): Connection {
  return new Connection({ instanceUrl: sim.url, accessToken, version: '62.0' });
}

export interface RawResponse {
  status: number;
  headers: Headers;
  body: any;
}

/** One HTTP call without jsforce, to see statuses and headers jsforce hides. */
export async function raw(
  sim: SimServer,
  method: string,
  path: string,
  options: { body?: unknown; token?: string | null } = {},
): Promise<RawResponse> {
  const { body, token = TOKEN } = options;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const response = await fetch(`${sim.url}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
}

export const soqlUrl = (soql: string) => `${API}/query?q=${encodeURIComponent(soql)}`;

/** The shared /__sim/ control API (docs/simulators.md), over HTTP as any client would use it. */
export async function simControl<T = unknown>(baseUrl: string, path: 'stats' | 'reset' | 'faults' | 'state', body?: Partial<FaultConfig>): Promise<T> {
  const post = path === 'reset' || body !== undefined;
  const response = await fetch(`${baseUrl}/__sim/${path}`, {
    method: post ? 'POST' : 'GET',
    headers: { 'content-type': 'application/json' },
    body: post ? JSON.stringify(body ?? {}) : undefined,
  });
  if (!response.ok) throw new Error(`/__sim/${path} answered ${response.status}`);
  return (await response.json()) as T;
}

export const simStats = (baseUrl: string) => simControl<SimStats>(baseUrl, 'stats');
