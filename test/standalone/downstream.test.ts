/**
 * The standalone gateway as a plain federation gateway is expected to behave towards its subgraphs:
 * a foreign subgraph's error message reaches the client (code DOWNSTREAM_SERVICE_ERROR, the
 * subgraph named) unless CONCORD_MASK_SUBGRAPH_ERRORS hides it; and over Concord's own subgraphs,
 * which answer only signed requests, /ready passes because its probe is signed like every request.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { GraphQLError, parse } from 'graphql';
import { loadConfig } from '../../core/config';
import { createLogger } from '../../core/log';
import { runGatewayCli } from '../../gateway/cli';
import { startStandaloneGateway, type RunningStandaloneGateway } from '../../gateway/standalone';
import { subgraphSdl, type SubgraphName } from '../../schema/subgraphs';
import { startTestSystem, type TestSystem } from '../helpers/system';
import { gql, tempDir } from './helpers';
import { serveSubgraph, type TestSubgraph } from './subgraph-server';
import { composeSupergraph } from './subgraphs';

const logger = createLogger({ level: 'silent' });

const WIDGETS_SDL = `
extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key"])
type Query {
  ok: String!
  "Throws a plain Error: the subgraph answers without a code."
  boom: String
  "Throws with Apollo Server's default code."
  coded: String
}
`;

describe('subgraph errors through the standalone gateway', () => {
  let widgets: TestSubgraph;
  let file: string;
  const gateways: RunningStandaloneGateway[] = [];

  beforeAll(async () => {
    widgets = await serveSubgraph('widgets', parse(WIDGETS_SDL), {
      Query: {
        ok: () => 'fine',
        boom: () => {
          throw new Error('boom from the subgraph');
        },
        coded: () => {
          throw new GraphQLError('coded boom', { extensions: { code: 'INTERNAL_SERVER_ERROR' } });
        },
      },
    });
    file = path.join(tempDir(), 'widgets.graphql');
    writeFileSync(file, composeSupergraph([{ name: 'widgets', sdl: WIDGETS_SDL, url: widgets.url }]));
  });
  afterAll(async () => {
    for (const gateway of gateways) await gateway.close();
    await widgets?.close();
  });

  async function gatewayWith(env: Record<string, string>): Promise<RunningStandaloneGateway> {
    const gateway = await runGatewayCli(['--supergraph', file, '--port', '0', '--auth', 'off', '--no-signing', '--no-watch'], { NODE_ENV: 'test', LOG_LEVEL: 'silent', ...env }, () => undefined);
    gateways.push(gateway!);
    return gateway!;
  }

  it("passes the subgraph's message on, with code DOWNSTREAM_SERVICE_ERROR and the subgraph's name", async () => {
    const gateway = await gatewayWith({});
    const { status, body } = await gql(gateway.url, '{ ok boom coded }');
    expect(status).toBe(200);
    expect(body.data).toEqual({ ok: 'fine', boom: null, coded: null });
    const byPath = Object.fromEntries(body.errors!.map((e: any) => [e.path.join('.'), e]));
    expect(byPath.boom).toMatchObject({ message: 'boom from the subgraph', extensions: { code: 'DOWNSTREAM_SERVICE_ERROR', subgraph: 'widgets', correlationId: expect.any(String) } });
    expect(byPath.coded).toMatchObject({ message: 'coded boom', extensions: { code: 'DOWNSTREAM_SERVICE_ERROR', subgraph: 'widgets', subgraphCode: 'INTERNAL_SERVER_ERROR' } });
  });

  it('hides it with CONCORD_MASK_SUBGRAPH_ERRORS=1', async () => {
    const gateway = await gatewayWith({ CONCORD_MASK_SUBGRAPH_ERRORS: '1' });
    const { body } = await gql(gateway.url, '{ ok boom coded }');
    expect(body.data.ok).toBe('fine');
    for (const error of body.errors!) {
      expect(error).toMatchObject({ message: 'Internal error', extensions: { code: 'INTERNAL', subgraph: 'widgets' } });
      expect(error.message).not.toMatch(/boom/);
    }
  });
});

describe('a query the gateway cannot plan', () => {
  const A = `extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key"])
type Widget @key(fields: "id") { id: ID! }
type Query { widget: Widget }`;
  const B = `extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key"])
type Widget @key(fields: "id") { id: ID! name: String }`;
  let subgraphs: TestSubgraph[];
  let gateway: RunningStandaloneGateway;

  beforeAll(async () => {
    subgraphs = [
      await serveSubgraph('a', parse(A), { Query: { widget: () => ({ id: '1' }) } }),
      await serveSubgraph('b', parse(B), { Widget: { __resolveReference: (ref: { id: string }) => ({ id: ref.id, name: 'w' }) } }),
    ];
    // A supergraph that validates but cannot be planned: b's Widget may no longer be fetched by key.
    const sdl = composeSupergraph([
      { name: 'a', sdl: A, url: subgraphs[0].url },
      { name: 'b', sdl: B, url: subgraphs[1].url },
    ]).replace('@join__type(graph: B, key: "id")', '@join__type(graph: B, key: "id", resolvable: false)');
    const file = path.join(tempDir(), 'unplannable.graphql');
    writeFileSync(file, sdl);
    gateway = await startStandaloneGateway({ supergraphPath: file, port: 0, auth: 'off', subgraphSecret: null, jwtSecret: null, watch: false, logger });
  });
  afterAll(async () => {
    await gateway?.close();
    for (const subgraph of subgraphs ?? []) await subgraph.close();
  });

  it("answers a GraphQL error with the planner's message, not a bare 500", async () => {
    const { status, body } = await gql(gateway.url, '{ widget { id name } }');
    expect(status).toBe(200);
    expect(body.data).toBeNull();
    expect(body.errors).toEqual([
      { message: expect.stringMatching(/^the gateway could not plan this operation: Was not able to find any options for name/), extensions: { code: 'INTERNAL', correlationId: expect.any(String) } },
    ]);
    // The plannable part of the graph still answers.
    expect((await gql(gateway.url, '{ widget { id } }')).body).toEqual({ data: { widget: { id: '1' } } });
  });
});

describe("the standalone gateway over Concord's own (signed) subgraphs", () => {
  const SECRET = 'standalone-signed-probe-secret-0123456789';
  let system: TestSystem;
  let gateway: RunningStandaloneGateway;
  let supergraph: string;

  beforeAll(async () => {
    system = await startTestSystem({ env: { CONCORD_SUBGRAPH_SECRET: SECRET, CONCORD_WORKERS: '0' } });
    const config = loadConfig({ NODE_ENV: 'test', CONCORD_SUBGRAPH_SECRET: SECRET, CONCORD_JWT_SECRET: 'concord-test-secret-0123456789abcdef' });
    const s = system.subgraphs;
    // Concord's four HTTP subgraphs (events runs inside the API process, not as a server of its own).
    const file = path.join(tempDir(), 'concord-http.graphql');
    const urls = { crm: s.crm.url, billing: s.billing.url, erp: s.erp.url, orchestration: s.orchestration.url };
    writeFileSync(file, composeSupergraph(Object.entries(urls).map(([name, url]) => ({ name, url, sdl: subgraphSdl(name as SubgraphName) }))));
    supergraph = file;
    gateway = await startStandaloneGateway({
      supergraphPath: file,
      port: 0,
      subgraphSecret: config.subgraphSecret,
      jwtSecret: config.jwtSecret,
      watch: false,
      logger,
    });
  });
  afterAll(async () => {
    await gateway?.close();
    await system?.close();
  });

  it('is ready (its probe is signed) while queries succeed', async () => {
    const ready = await fetch(`${gateway.url}/ready`);
    expect(await ready.json()).toEqual({ ready: true, subgraphs: { crm: 'up', billing: 'up', erp: 'up', orchestration: 'up' } });
    expect(ready.status).toBe(200);
    const { body } = await gql(gateway.url, '{ customers(first: 2) { edges { node { name } } } }', undefined, { authorization: `Bearer ${system.token}` });
    expect(body.errors).toBeUndefined();
    expect(body.data.customers.edges).toHaveLength(2);
  });

  it('turns not ready when a subgraph does not share its secret', async () => {
    const stranger = await startStandaloneGateway({
      supergraphPath: supergraph,
      port: 0,
      subgraphSecret: 'another-secret-entirely-0123456789abcdef',
      jwtSecret: 'concord-test-secret-0123456789abcdef',
      watch: false,
      logger,
    });
    try {
      const ready = await fetch(`${stranger.url}/ready`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ ready: false, subgraphs: { crm: 'down (401)' } });
    } finally {
      await stranger.close();
    }
  });
});
