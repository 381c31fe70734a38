import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readConfigFile } from '../../../runtime/src/config/config-file';
import { ConfigError } from '../../../runtime/src/errors';

describe('readConfigFile', () => {
  let dir: string;
  const env: Record<string, string> = { TOKEN: 's3cr3t', HOST: 'bundles.example.com', QUOTED: 'a"b\nc: d' };
  const lookup = (name: string) => env[name];

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'config-file-'));
  });

  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function write(name: string, text: string): string {
    const file = path.join(dir, name);
    fs.writeFileSync(file, text);
    return file;
  }

  describe('GIVEN ${NAME} references', () => {
    test('WHEN the JSON file is read THEN string values anywhere are substituted, unset names become "", keys and other types stay', () => {
      // GIVEN
      const file = write('config.json', JSON.stringify({
        'services': { acme: { url: 'https://${HOST}/v1', credentials: { bearer: { token: '${TOKEN}' } } } },
        'labels': { both: '${HOST}:${TOKEN}', unset: '${NOT_SET}', literal: '$HOST and ${not a name}' },
        'list': ['${TOKEN}', 3, true, null],
        '${TOKEN}': 'key',
      }));
      // WHEN
      const config = readConfigFile(file, lookup);
      // THEN
      expect(config).toEqual({
        'services': { acme: { url: 'https://bundles.example.com/v1', credentials: { bearer: { token: 's3cr3t' } } } },
        'labels': { both: 'bundles.example.com:s3cr3t', unset: '', literal: '$HOST and ${not a name}' },
        'list': ['s3cr3t', 3, true, null],
        '${TOKEN}': 'key',
      });
    });

    test('WHEN a value holds quotes, a newline and a colon THEN it stays one string and cannot change the document (OPA substitutes in the raw text)', () => {
      const file = write('config.yaml', 'labels:\n  team: "${QUOTED}"\n');
      expect(readConfigFile(file, lookup)).toEqual({ labels: { team: 'a"b\nc: d' } });
    });
  });

  test.each([
    ['config.yaml', 'services:\n  acme:\n    url: https://${HOST}\nbundles:\n  authz:\n    service: acme\n'],
    ['config.yml', 'services:\n  acme:\n    url: https://${HOST}\nbundles:\n  authz:\n    service: acme\n'],
    ['config.json', '{"services": {"acme": {"url": "https://${HOST}"}}, "bundles": {"authz": {"service": "acme"}}}'],
    ['config', '{"services": {"acme": {"url": "https://${HOST}"}}, "bundles": {"authz": {"service": "acme"}}}'],
  ])('GIVEN %s WHEN read THEN it parses by its extension (YAML for .yaml/.yml, JSON otherwise)', (name, text) => {
    expect(readConfigFile(write(name, text), lookup)).toEqual({ services: { acme: { url: 'https://bundles.example.com' } }, bundles: { authz: { service: 'acme' } } });
  });

  test('GIVEN a YAML file WHEN read THEN its scalars are read with go-yaml\'s rules, as OPA reads its configuration', () => {
    // Read as YAML 1.2 (the yaml package's default), 010 is 10, 1_000 a string, and the repeated key an error.
    const text = 'decision_logs:\n  reporting:\n    min_delay_seconds: 010\n    max_delay_seconds: 1_000\n    max_delay_seconds: 600\nlabels:\n  on: yes\n';
    expect(readConfigFile(write('config.yaml', text), lookup)).toEqual({
      decision_logs: { reporting: { min_delay_seconds: 8, max_delay_seconds: 600 } },
      labels: { on: 'yes' },
    });
  });

  test.each(['config.json', 'config.yaml'])('GIVEN an empty %s WHEN read THEN the configuration is empty', (name) => {
    const text = name.endsWith('.json') ? 'null' : '';
    expect(readConfigFile(write(name, text), lookup)).toEqual({});
  });

  test.each<[string, string, string, RegExp]>([
    ['JSON that does not parse', 'config.json', '{"a": ', /^the configuration file .*config\.json is not valid JSON: /],
    ['YAML that does not parse', 'config.yaml', 'a: [1, 2\n', /^the configuration file .*config\.yaml is not valid YAML: /],
    ['a file without extension that is not JSON', 'config', 'a: 1', /^the configuration file .*config is not valid JSON: /],
    ['an array at the top', 'config.json', '[1, 2]', /^the configuration file .*config\.json must hold an object, got an array$/],
    ['a string at the top', 'config.yaml', 'just text', /^the configuration file .*config\.yaml must hold an object, got string$/],
  ])('GIVEN %s WHEN read THEN a ConfigError says so', (_what, name, text, message) => {
    const read = () => readConfigFile(write(name, text), lookup);
    expect(read).toThrow(ConfigError);
    expect(read).toThrow(message);
  });

  test('GIVEN no file WHEN read THEN a ConfigError names it', () => {
    const file = path.join(dir, 'missing.json');
    expect(() => readConfigFile(file, lookup)).toThrow(`cannot read the configuration file ${file}: ENOENT`);
  });
});
