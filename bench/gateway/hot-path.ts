/**
 * `tsx bench/gateway/hot-path.ts`: microseconds per call of the pieces of Concord's per-request
 * security path, on the bench query and token (bench/README.md quotes them). Three rounds each, to
 * show the spread; run it on an idle machine.
 */
import { ApolloGateway } from '@apollo/gateway';
import { jwtVerify } from 'jose';
import { encodePrincipal } from '../../core/principal';
import { signRequest } from '../../core/signing';
import { createAdmission } from '../../gateway/admission';
import { createAuthenticator } from '../../gateway/auth';
import { policyFromSupergraph, supergraphForGateway } from '../../gateway/authorization';
import { DEFAULT_LIMITS } from '../../gateway/limits';
import { createPersistedQueries } from '../../gateway/persisted';
import { mintToken } from '../../gateway/token';
import { BENCH_QUERY, composeBenchSupergraph } from './schema';

async function timeIt(n: number, call: () => unknown): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < n; i += 1) await call();
  return ((performance.now() - started) * 1000) / n;
}

async function main(): Promise<void> {
  const secret = 'bench-jwt-secret-0123456789abcdef0123';
  const token = await mintToken({ secret, subject: 'bench', scopes: ['customers:read'] });
  const key = new TextEncoder().encode(secret);
  const auth = createAuthenticator({ hs256Secret: secret });
  const principal = await auth.authenticate(`Bearer ${token}`);
  const supergraph = composeBenchSupergraph((name) => `http://127.0.0.1:1/${name}`);
  // The API schema exactly as the gateway derives it.
  const gateway = new ApolloGateway({ supergraphSdl: supergraphForGateway(supergraph) });
  const { schema } = await gateway.load();
  const policy = policyFromSupergraph(supergraph);
  const admission = createAdmission({
    schema: () => schema,
    policy: () => policy,
    limits: DEFAULT_LIMITS,
    maxTokens: 5000,
    persisted: createPersistedQueries({ apq: true, safelist: null }),
  });
  const body = JSON.stringify({ query: '{ _entities(representations: $r) { ... on Product { upc } } }', variables: { r: [{ __typename: 'Product', upc: '1000' }] } });
  const header = encodePrincipal(principal);
  for (let round = 1; round <= 3; round += 1) {
    const figures = {
      'jwtVerify HS256': await timeIt(20_000, () => jwtVerify(token, key, { algorithms: ['HS256'], clockTolerance: 5, requiredClaims: ['exp', 'sub'] })),
      'authenticate (cached token)': await timeIt(20_000, () => auth.authenticate(`Bearer ${token}`)),
      encodePrincipal: await timeIt(50_000, () => encodePrincipal(principal)),
      'signRequest (one fetch)': await timeIt(50_000, () => signRequest('bench-subgraph-secret', { method: 'POST', path: '/graphql', subgraph: 'products', body, principal: header })),
      'admission.admit (bench query, cached)': await timeIt(5_000, () => admission.admit({ query: BENCH_QUERY, operationName: 'Bench' }, principal)),
    };
    console.log(`round ${round}: ${Object.entries(figures).map(([name, us]) => `${name} ${us.toFixed(2)} us`).join('; ')}`);
  }
  await gateway.stop();
}

void main();
