/**
 * Choosing HubSpot in the configuration: HUBSPOT_ACCESS_TOKEN with the real API as the default base,
 * the account's limits, production naming exactly the chosen CRM vendor's missing variables, and the
 * token kept out of logs (core/log.ts scrubs `pat-` tokens) and out of error messages.
 */
import { ConfigError, loadConfig } from '../../core/config';
import { scrub } from '../../core/log';
import { errorFromHubSpot } from '../../vendors/hubspot/errors';
import { vendorEndpoints, vendorLimits, vendorSettingsFromConfig } from '../../vendors';

const TOKEN = 'pat-na1-0f1e2d3c-4b5a-6978-8877-665544332211';
const OTHERS = { stripe: { apiKey: 'sk_test_x', baseUrl: 'http://stripe' }, netsuite: { accountId: 'A', baseUrl: 'http://ns', consumerKey: 'k', consumerSecret: 's', tokenId: 't', tokenSecret: 's' } };

describe('CONCORD_CRM=hubspot configuration', () => {
  it('reads the token with https://api.hubapi.com as the base, and the account limits', () => {
    const config = loadConfig({ NODE_ENV: 'test', CONCORD_CRM: 'hubspot', HUBSPOT_ACCESS_TOKEN: TOKEN });
    expect(config.hubspot).toEqual({ accessToken: TOKEN, baseUrl: 'https://api.hubapi.com', requestsPerTenSeconds: 190, searchPerSecond: 5, contractObjectType: 'p_concord_contracts' });
    const settings = vendorSettingsFromConfig(config, OTHERS);
    expect(settings.hubspot).toMatchObject({ accessToken: TOKEN });
    expect(settings.salesforce).toBeUndefined();
    expect(vendorEndpoints(settings)).toMatchObject({ hubspot: 'https://api.hubapi.com' });
    // 190 a rolling ten seconds, as the per-second figure metrics and the ops console read.
    expect(vendorLimits(settings).hubspot).toEqual({ system: 'CRM', kind: 'REQUESTS_PER_SECOND', max: 19 });
    const starter = loadConfig({ NODE_ENV: 'test', CONCORD_CRM: 'hubspot', HUBSPOT_ACCESS_TOKEN: TOKEN, HUBSPOT_REQUESTS_PER_10S: '100', HUBSPOT_BASE_URL: 'http://127.0.0.1:4104' });
    expect(starter.hubspot).toMatchObject({ requestsPerTenSeconds: 100, baseUrl: 'http://127.0.0.1:4104' });
    expect(() => loadConfig({ NODE_ENV: 'test', HUBSPOT_BASE_URL: 'http://127.0.0.1:4104' })).toThrow(new ConfigError('HubSpot is partly configured; also set HUBSPOT_ACCESS_TOKEN'));
    expect(() => loadConfig({ NODE_ENV: 'test', HUBSPOT_ACCESS_TOKEN: TOKEN, HUBSPOT_BASE_URL: 'api.hubapi.com' })).toThrow(/HUBSPOT_BASE_URL must be an http\(s\) URL/);
    expect(() => vendorSettingsFromConfig(loadConfig({ NODE_ENV: 'test', CONCORD_CRM: 'hubspot' }), OTHERS)).toThrow(/vendors not configured: HubSpot \(HUBSPOT_ACCESS_TOKEN\)/);
  });

  it("in production names the chosen CRM vendor's missing variables, not Salesforce's", () => {
    const attempt = (env: Record<string, string>) => {
      try {
        loadConfig({ NODE_ENV: 'production', STRIPE_API_KEY: 'sk_live_x', NETSUITE_ACCOUNT_ID: 'A', NETSUITE_CONSUMER_KEY: 'k', NETSUITE_CONSUMER_SECRET: 's', NETSUITE_TOKEN_ID: 't', NETSUITE_TOKEN_SECRET: 's', ...env }, 'worker');
        return '';
      } catch (error) {
        return (error as Error).message;
      }
    };
    const missing = attempt({ CONCORD_CRM: 'hubspot' });
    expect(missing).toMatch(/HUBSPOT_ACCESS_TOKEN \(HubSpot\)/);
    expect(missing).not.toMatch(/SALESFORCE_/);
    expect(attempt({ CONCORD_CRM: 'hubspot', HUBSPOT_ACCESS_TOKEN: TOKEN })).toBe('');
    expect(attempt({})).toMatch(/SALESFORCE_INSTANCE_URL/);
  });

  it('keeps the private-app token out of logs and error messages', () => {
    expect(scrub(`calling HubSpot with ${TOKEN}`)).toBe('calling HubSpot with [redacted-key]');
    expect(scrub(`authorization: Bearer ${TOKEN}`)).not.toContain(TOKEN);
    const echoed = errorFromHubSpot({ code: 400, body: { status: 'error', category: 'VALIDATION_ERROR', message: `bad token ${TOKEN}` } }, { operation: 'companies.batch.read', write: false });
    expect(echoed).toMatchObject({ code: 'VENDOR_REJECTED', system: 'CRM', retryable: false, vendorCode: 'VALIDATION_ERROR', status: 400 });
    expect(echoed.message).not.toContain(TOKEN);
  });
});
