/** The part of `--help` that lists environment variables, the config file and exit codes. */
import { configFileEnv } from '../config/load-config.js';
import { settings, shownDefault } from '../config/settings.js';
import { exitCodeDescriptions } from '../errors.js';

export function environmentHelp(): string {
  const rows: Array<[string, string]> = [
    ...settings.map((s): [string, string] => [s.env, `${s.description} (default: ${shownDefault(s)})`]),
    [configFileEnv, 'JSON file of settings, same as --config <file>'],
    ['DEBUG', 'any value: print stack traces with errors'],
    ['MTC_BATCH_NO_SNAPSHOT', 'any value: start from the plain bundle, not the start-up snapshot (slower; as with NODE_OPTIONS or DEBUG set)'],
  ];
  const width = Math.max(...rows.map(([name]) => name.length));
  return [
    '',
    'Environment:',
    ...rows.map(([name, text]) => `  ${name.padEnd(width)}  ${text}`),
    '',
    'Configuration: built-in defaults < JSON config file (--config or MTC_BATCH_CONFIG)',
    `  < environment < flags. File keys are the setting names: ${settings.map((s) => s.key).join(', ')}.`,
    '',
    'Exit codes:',
    ...exitCodeDescriptions.map(([code, text]) => `  ${String(code)} ${text}`),
  ].join('\n');
}
