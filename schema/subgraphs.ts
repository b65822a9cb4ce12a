/** The subgraphs of the bundled supergraph, their SDL files and their default local ports. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse, type DocumentNode } from 'graphql';

export const SUBGRAPH_NAMES = ['crm', 'billing', 'erp', 'orchestration'] as const;
export type SubgraphName = (typeof SUBGRAPH_NAMES)[number];

/** Port offset from the gateway port (API.md: crm +1, billing +2, erp +3, orchestration +4). */
export const SUBGRAPH_PORT_OFFSET: Record<SubgraphName, number> = { crm: 1, billing: 2, erp: 3, orchestration: 4 };

export const SUPERGRAPH_PATH = path.join(__dirname, 'supergraph.graphql');

export function subgraphSdl(name: SubgraphName): string {
  return readFileSync(path.join(__dirname, `${name}.graphql`), 'utf8');
}

export function subgraphTypeDefs(name: SubgraphName): DocumentNode {
  return parse(subgraphSdl(name));
}
