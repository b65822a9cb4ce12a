/**
 * `npm run compose`: compose schema/*.graphql into schema/supergraph.graphql with
 * @apollo/composition. `--check` compares instead of writing and exits 1 when the committed file is
 * stale. Subgraph URLs in the committed file are the local defaults (PORT=4000); the gateway
 * overrides them at run time.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { composeServices } from '@apollo/composition';
import { SUBGRAPH_NAMES, SUBGRAPH_PORT_OFFSET, SUPERGRAPH_PATH, subgraphTypeDefs } from './subgraphs';

export function composeSupergraph(basePort = 4000): string {
  const result = composeServices(
    SUBGRAPH_NAMES.map((name) => ({
      name,
      typeDefs: subgraphTypeDefs(name),
      url: `http://127.0.0.1:${basePort + SUBGRAPH_PORT_OFFSET[name]}/graphql`,
    })),
  );
  if (result.errors) {
    throw new Error(`composition failed:\n${result.errors.map((e) => `- ${e.message}`).join('\n')}`);
  }
  return result.supergraphSdl;
}

if (require.main === module) {
  const sdl = composeSupergraph();
  if (process.argv.includes('--check')) {
    const committed = readFileSync(SUPERGRAPH_PATH, 'utf8');
    if (committed !== sdl) {
      console.error('schema/supergraph.graphql is stale: run `npm run compose` and commit it');
      process.exit(1);
    }
    console.log('schema/supergraph.graphql is up to date');
  } else {
    writeFileSync(SUPERGRAPH_PATH, sdl);
    console.log(`wrote ${SUPERGRAPH_PATH}`);
  }
}
