/** The subgraphs of the bundled supergraph, their SDL files and their default local ports. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse, type DocumentNode } from 'graphql';

export const SUBGRAPH_NAMES = ['crm', 'billing', 'erp', 'orchestration', 'events'] as const;
export type SubgraphName = (typeof SUBGRAPH_NAMES)[number];

/**
 * Port offset from the gateway port (docs/configuration.md: crm +1, billing +2, erp +3, orchestration +4). The
 * events subgraph is served inside the gateway (it executes subscriptions), so it is at the gateway's port.
 */
export const SUBGRAPH_PORT_OFFSET: Record<SubgraphName, number> = { crm: 1, billing: 2, erp: 3, orchestration: 4, events: 0 };

/** Subgraphs the gateway serves in its own process (no server of their own, no health check). */
export const IN_GATEWAY_SUBGRAPHS: readonly SubgraphName[] = ['events'];

export const SUPERGRAPH_PATH = path.join(__dirname, 'supergraph.graphql');

export function subgraphSdl(name: SubgraphName): string {
  return readFileSync(path.join(__dirname, `${name}.graphql`), 'utf8');
}

export function subgraphTypeDefs(name: SubgraphName): DocumentNode {
  return parse(subgraphSdl(name));
}
