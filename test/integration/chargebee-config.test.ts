/**
 * Choosing Chargebee in the configuration: its variables are one group (site and API key, the
 * API base optional), its webhook credentials a pair, production names exactly the chosen billing
 * vendor's missing variables (site, API key, webhook credentials), and a production system with
 * the Chargebee variables set - and no Stripe ones - runs against that site, its webhook route
 * accepting only the configured credentials.
 */
import { ConfigError, loadConfig } from '../../core/config';
import { vendorEndpoints, vendorLimits, vendorSettingsFromConfig } from '../../vendors';
import { startTestSystem } from '../helpers/system';

const CB = { CHARGEBEE_SITE: 'acme-test', CHARGEBEE_API_KEY: 'test_abcdefgh12345678' };
const HOOK = { CHARGEBEE_WEBHOOK_USERNAME: 'concord', CHARGEBEE_WEBHOOK_PASSWORD: 'hook-password' };

describe('CONCORD_BILLING=chargebee configuration', () => {
  it('reads the group with the site\'s own API host as default, and refuses a partial one naming what is missing', () => {
    const config = loadConfig({ NODE_ENV: 'test', CONCORD_BILLING: 'chargebee', ...CB, ...HOOK });
    expect(config.chargebee).toEqual({ site: 'acme-test', apiKey: 'test_abcdefgh12345678', baseUrl: null, requestsPerMinute: 150 });
    expect(config.events.chargebeeWebhookCredentials).toBe('concord:hook-password');
    const settings = vendorSettingsFromConfig(config, { salesforce: { instanceUrl: 'http://sf', accessToken: 't' }, netsuite: { accountId: 'A', baseUrl: 'http://ns', consumerKey: 'k', consumerSecret: 's', tokenId: 't', tokenSecret: 's' } });
    expect(settings.chargebee).toMatchObject({ site: 'acme-test' });
    expect(settings.stripe).toBeUndefined();
    expect(vendorEndpoints(settings)).toMatchObject({ chargebee: 'https://acme-test.chargebee.com' });
    // 150 requests a minute (test sites, Starter plan) as the per-second figure the governors read.
    expect(vendorLimits(settings).chargebee).toEqual({ system: 'BILLING', kind: 'REQUESTS_PER_SECOND', max: 2 });
    expect(vendorLimits(vendorSettingsFromConfig(loadConfig({ NODE_ENV: 'test', CONCORD_BILLING: 'chargebee', ...CB, CHARGEBEE_REQUESTS_PER_MINUTE: '1000' }), settings)).chargebee).toMatchObject({ max: 16 });

    // Reconciliation keeps to half the plan's limit unless told otherwise.
    expect(config.consistency.reconciliationPace.BILLING).toBe(1);
    expect(loadConfig({ NODE_ENV: 'test', CONCORD_BILLING: 'chargebee', CHARGEBEE_REQUESTS_PER_MINUTE: '3500' }).consistency.reconciliationPace.BILLING).toBe(29);
    expect(loadConfig({ NODE_ENV: 'test' }).consistency.reconciliationPace.BILLING).toBe(25);
    expect(() => loadConfig({ NODE_ENV: 'test', CHARGEBEE_SITE: 'acme-test' })).toThrow(new ConfigError('Chargebee is partly configured; also set CHARGEBEE_API_KEY'));
    expect(() => loadConfig({ NODE_ENV: 'test', CHARGEBEE_WEBHOOK_USERNAME: 'u' })).toThrow(new ConfigError('Chargebee webhooks are partly configured; also set CHARGEBEE_WEBHOOK_PASSWORD'));
    expect(() => loadConfig({ NODE_ENV: 'test', ...CB, CHARGEBEE_SITE: 'https://acme-test.chargebee.com' })).toThrow(/CHARGEBEE_SITE must be the site name/);
    // Chosen but not configured, with nothing to fall back on: named.
    expect(() => vendorSettingsFromConfig(loadConfig({ NODE_ENV: 'test', CONCORD_BILLING: 'chargebee' }), { salesforce: settings.salesforce, netsuite: settings.netsuite })).toThrow(
      /vendors not configured: Chargebee \(CHARGEBEE_SITE, CHARGEBEE_API_KEY\)/,
    );
  });

  it('in production names the chosen billing vendor\'s missing variables, not the other one\'s', () => {
    const attempt = (env: Record<string, string>) => {
      try {
        loadConfig({ NODE_ENV: 'production', SALESFORCE_INSTANCE_URL: 'https://x.my.salesforce.com', SALESFORCE_ACCESS_TOKEN: 't', NETSUITE_ACCOUNT_ID: 'A', NETSUITE_CONSUMER_KEY: 'k', NETSUITE_CONSUMER_SECRET: 's', NETSUITE_TOKEN_ID: 't', NETSUITE_TOKEN_SECRET: 's', ...env }, 'worker');
        return '';
      } catch (error) {
        return (error as Error).message;
      }
    };
    const cb = attempt({ CONCORD_BILLING: 'chargebee' });
    expect(cb).toMatch(/CHARGEBEE_SITE, CHARGEBEE_API_KEY, CHARGEBEE_WEBHOOK_USERNAME, CHARGEBEE_WEBHOOK_PASSWORD \(Chargebee\)/);
    expect(cb).not.toMatch(/STRIPE_/);
    expect(attempt({ CONCORD_BILLING: 'chargebee', ...CB })).toMatch(/CHARGEBEE_WEBHOOK_USERNAME, CHARGEBEE_WEBHOOK_PASSWORD \(Chargebee\)/);
    expect(attempt({ CONCORD_BILLING: 'chargebee', ...CB, ...HOOK })).toBe('');
    const stripe = attempt({});
    expect(stripe).toMatch(/STRIPE_API_KEY/);
    expect(stripe).not.toMatch(/CHARGEBEE_/);
  });

  it('a production system with only Chargebee\'s billing variables runs against that site and takes its webhooks', async () => {
    const system = await startTestSystem({ env: { NODE_ENV: 'production', CONCORD_BILLING: 'chargebee', CONCORD_JWT_SECRET: 'concord-test-secret-0123456789abcdef' } });
    try {
      expect(system.simulators).toEqual({});
      const { body } = await system.gql('{ customers(first: 5) { edges { node { id externalRefs { system vendor id } contracts { id } } } } }');
      expect(body.errors).toBeUndefined();
      for (const edge of body.data.customers.edges) expect(edge.node.externalRefs).toContainEqual(expect.objectContaining({ system: 'BILLING', vendor: 'chargebee' }));
      expect(system.vendorCalls.some((c) => c.vendor === 'chargebee')).toBe(true);
      expect(system.vendorCalls.some((c) => c.vendor === 'stripe')).toBe(false);
      const post = (auth: string) =>
        fetch(`${system.gateway.url}/webhooks/chargebee`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(auth).toString('base64')}` },
          body: JSON.stringify({ id: 'ev_config_test', occurred_at: 1764633600, api_version: 'v2', event_type: 'customer_changed', content: { customer: { id: 'x' } } }),
        });
      expect((await post('concord-test:wrong')).status).toBe(401);
      const accepted = await post('concord-test:concord-test-webhook-password');
      expect(accepted.status).toBe(200);
      expect(await accepted.json()).toMatchObject({ received: true, ignored: 'customer_changed' });
    } finally {
      await system.close();
    }
  });
});
