/**
 * Choosing Business Central in the configuration: its variables are one group (all or none, with
 * Microsoft's endpoints as defaults), production names exactly the chosen ERP's missing variables,
 * and the vendor settings Concord builds from it point the ERP module at the configured tenant.
 */
import { ConfigError, loadConfig } from '../../core/config';
import { vendorEndpoints, vendorLimits, vendorSettingsFromConfig } from '../../vendors';

const BC = { BUSINESSCENTRAL_TENANT_ID: 'contoso.onmicrosoft.com', BUSINESSCENTRAL_CLIENT_ID: 'app-id', BUSINESSCENTRAL_CLIENT_SECRET: 'app-secret' };

describe('CONCORD_ERP=businesscentral configuration', () => {
  it('reads the group with Microsoft\'s endpoints as defaults, and refuses a partial one naming what is missing', () => {
    const config = loadConfig({ NODE_ENV: 'test', CONCORD_ERP: 'businesscentral', ...BC });
    expect(config.businesscentral).toEqual({
      tenant: 'contoso.onmicrosoft.com',
      environment: 'production',
      clientId: 'app-id',
      clientSecret: 'app-secret',
      baseUrl: 'https://api.businesscentral.dynamics.com',
      tokenUrl: 'https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token',
      companyId: '',
    });
    const settings = vendorSettingsFromConfig(config, { salesforce: { instanceUrl: 'http://sf', accessToken: 't' }, stripe: { apiKey: 'sk_test_x', baseUrl: 'http://stripe' } });
    expect(settings.businesscentral).toMatchObject({ tenant: 'contoso.onmicrosoft.com', baseUrl: 'https://api.businesscentral.dynamics.com', concurrency: 5 });
    expect(settings.businesscentral).not.toHaveProperty('companyId');
    expect(settings.netsuite).toBeUndefined();
    expect(vendorEndpoints(settings)).toMatchObject({ businesscentral: 'https://api.businesscentral.dynamics.com' });
    expect(vendorLimits(settings).businesscentral).toEqual({ system: 'ERP', kind: 'REQUESTS_PER_SECOND', max: 20 });

    expect(() => loadConfig({ NODE_ENV: 'test', BUSINESSCENTRAL_TENANT_ID: 't' })).toThrow(
      new ConfigError('Business Central is partly configured; also set BUSINESSCENTRAL_CLIENT_ID, BUSINESSCENTRAL_CLIENT_SECRET'),
    );
  });

  it('in production names the chosen ERP\'s missing variables, not the other ERP\'s', () => {
    const attempt = (env: Record<string, string>) => {
      try {
        loadConfig({ NODE_ENV: 'production', SALESFORCE_INSTANCE_URL: 'https://x.my.salesforce.com', SALESFORCE_ACCESS_TOKEN: 't', STRIPE_API_KEY: 'sk_live_x', ...env }, 'worker');
        return '';
      } catch (error) {
        return (error as Error).message;
      }
    };
    const bc = attempt({ CONCORD_ERP: 'businesscentral' });
    expect(bc).toMatch(/BUSINESSCENTRAL_TENANT_ID, BUSINESSCENTRAL_CLIENT_ID, BUSINESSCENTRAL_CLIENT_SECRET \(Business Central\)/);
    expect(bc).not.toMatch(/NETSUITE_/);
    expect(attempt({ CONCORD_ERP: 'businesscentral', ...BC })).toBe('');
    const ns = attempt({});
    expect(ns).toMatch(/NETSUITE_ACCOUNT_ID/);
    expect(ns).not.toMatch(/BUSINESSCENTRAL_/);
  });
});
