/**
 * Commander gives an option that needs a value whatever argument comes next, even a
 * flag: `--check-code --config x.json` would take "--config" as a check code and the
 * config file would be silently ignored. Every option of a command is guarded here so
 * that a flag in a value's place is a usage error naming both.
 */
import { type Command, InvalidArgumentError, type Option } from 'commander';

/** `--anything`, or a lone short flag such as `-q`; a single `-` (stdin) and `-5` are values. */
function looksLikeFlag(value: string): boolean {
  return /^--./.test(value) || /^-[a-zA-Z]$/.test(value);
}

export function guardOptionValues(cmd: Command): void {
  for (const option of cmd.options as Option[]) {
    if (!option.required && !option.optional) continue;
    const parse = option.parseArg as ((value: string, previous: unknown) => unknown) | undefined;
    option.parseArg = <T>(value: string, previous: T): T => guarded(value, previous) as T;
    const guarded = (value: string, previous: unknown): unknown => {
      if (looksLikeFlag(value)) throw new InvalidArgumentError(`${option.long ?? option.flags} needs a value, but the next argument is the flag ${value}`);
      if (parse) return parse(value, previous);
      if (!option.variadic) return value;
      return previous === option.defaultValue || !Array.isArray(previous) ? [value] : [...previous, value];
    };
  }
}
