/**
 * Dev logs: pretty for a person at a terminal outside production, JSON for everything that collects
 * logs; CONCORD_LOG_FORMAT chooses explicitly, and a wrong value stops start-up naming the variable.
 */
import { ConfigError, loadConfig } from '../../core/config';
import { usePretty } from '../../core/log';

describe('log format', () => {
  it('is pretty on a terminal in development, JSON when piped or in production', () => {
    const auto = loadConfig({}).logFormat;
    expect(auto).toBe('auto');
    expect(usePretty(auto, false, true)).toBe(true);
    expect(usePretty(auto, false, false)).toBe(false);
    expect(usePretty(auto, true, true)).toBe(false);
  });

  it('follows CONCORD_LOG_FORMAT', () => {
    expect(usePretty(loadConfig({ CONCORD_LOG_FORMAT: 'json' }).logFormat, false, true)).toBe(false);
    expect(usePretty(loadConfig({ CONCORD_LOG_FORMAT: 'pretty' }).logFormat, false, false)).toBe(true);
    expect(() => loadConfig({ CONCORD_LOG_FORMAT: 'xml' })).toThrow(ConfigError);
    expect(() => loadConfig({ CONCORD_LOG_FORMAT: 'xml' })).toThrow(/CONCORD_LOG_FORMAT must be json, pretty or auto/);
  });
});
